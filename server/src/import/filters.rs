//! Which items to keep: type, status, author, date range, title/slug patterns, tags and
//! categories. Each filter is one stage of the build report, applied in this order.

use super::post::{DateTime, Post};
use regex::{Regex, RegexBuilder};

/// The selection criteria. Empty lists and `None` mean "no filter".
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Post types to keep (`post` by default; empty keeps all). Items with no type (markdown,
    /// transcripts) always pass.
    pub types: Vec<String>,
    /// Statuses to keep (`publish` by default; empty keeps all). Items with no status pass.
    pub statuses: Vec<String>,
    /// Login or display name (case-insensitive).
    pub author: Option<String>,
    /// Inclusive date range; an item without a date fails a date filter.
    pub since: Option<DateTime>,
    pub until: Option<DateTime>,
    /// Keep only items whose title or slug matches one of these.
    pub include_title: Vec<Pattern>,
    /// Drop items whose title or slug matches one of these.
    pub exclude_title: Vec<Pattern>,
    /// Keep only items with one of these tags / categories (name or slug, case-insensitive).
    pub tags: Vec<String>,
    pub categories: Vec<String>,
}

/// A title pattern: a case-insensitive regex, or the literal text when it is not a valid regex
/// (so `C++` or `(draft` work as plain substrings).
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    regex: Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Pattern {
        let regex = RegexBuilder::new(source)
            .case_insensitive(true)
            .build()
            .unwrap_or_else(|_| {
                RegexBuilder::new(&regex::escape(source))
                    .case_insensitive(true)
                    .build()
                    .expect("an escaped literal is a valid regex")
            });
        Pattern {
            source: source.to_string(),
            regex,
        }
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl Filters {
    pub fn type_ok(&self, post: &Post) -> bool {
        match &post.post_type {
            Some(t) => {
                self.types.is_empty() || self.types.iter().any(|k| k.eq_ignore_ascii_case(t))
            }
            None => true,
        }
    }

    pub fn status_ok(&self, post: &Post) -> bool {
        match &post.status {
            Some(s) => {
                self.statuses.is_empty() || self.statuses.iter().any(|k| k.eq_ignore_ascii_case(s))
            }
            None => true,
        }
    }

    pub fn author_ok(&self, post: &Post) -> bool {
        let Some(wanted) = &self.author else {
            return true;
        };
        let wanted = wanted.trim().to_lowercase();
        [&post.author, &post.author_display]
            .into_iter()
            .flatten()
            .any(|name| name.trim().to_lowercase() == wanted)
    }

    pub fn date_ok(&self, post: &Post) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(date) = post.date else { return false };
        self.since.is_none_or(|s| date >= s) && self.until.is_none_or(|u| date <= u)
    }

    pub fn title_ok(&self, post: &Post) -> bool {
        let matches = |p: &Pattern| {
            p.is_match(&post.title) || (!post.slug.is_empty() && p.is_match(&post.slug))
        };
        (self.include_title.is_empty() || self.include_title.iter().any(matches))
            && !self.exclude_title.iter().any(matches)
    }

    pub fn terms_ok(&self, post: &Post) -> bool {
        let has = |wanted: &[String], terms: &[String]| {
            wanted.is_empty()
                || wanted.iter().any(|w| {
                    let w = w.trim();
                    terms
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(w) || slugify(t) == slugify(w))
                })
        };
        has(&self.tags, &post.tags) && has(&self.categories, &post.categories)
    }

    pub fn has_dates(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    pub fn has_titles(&self) -> bool {
        !self.include_title.is_empty() || !self.exclude_title.is_empty()
    }

    pub fn has_terms(&self) -> bool {
        !self.tags.is_empty() || !self.categories.is_empty()
    }
}

/// `"Tag 1"` -> `"tag-1"`, the way WordPress derives term slugs (close enough to compare).
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Parses the dates sources write: `2008-09-03 09:59:54`, `2017-02-26 00:18:43 +0100`,
/// `2017-02-26T10:00:00Z`, `2017-02-26`, `2017/02/26`, and RSS `Thu, 05 Jan 2012 14:30:46 +0000`.
/// WordPress's "no date" (`0000-00-00 00:00:00`) and anything else give `None`.
pub fn parse_date(text: &str) -> Option<DateTime> {
    let text = text.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Some(date) = parse_iso(text) {
        return Some(date);
    }
    parse_rfc2822(text)
        .or_else(|| parse_numeric(text))
        .or_else(|| parse_human(text))
}

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `Sep`, `Sept.`, `September` -> 9.
fn month_number(word: &str) -> Option<u8> {
    let word = word.trim_end_matches('.').to_ascii_lowercase();
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    MONTH_NAMES
        .iter()
        .position(|m| m.starts_with(&word))
        .map(|i| i as u8 + 1)
}

/// `09/26/2004` (US order), `26/09/2004` when the first number cannot be a month, `26.09.2004`
/// (day first), each optionally followed by a time.
fn parse_numeric(text: &str) -> Option<DateTime> {
    let (date, time) = text.split_once(' ').unwrap_or((text, ""));
    let sep = if date.contains('/') { '/' } else { '.' };
    let parts: Vec<u16> = date
        .split(sep)
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, year] = parts[..] else { return None };
    if year < 1000 {
        return None;
    }
    let (month, day) = if sep == '.' || a > 12 { (b, a) } else { (a, b) };
    let time = parse_time(&time.split_whitespace().collect::<Vec<_>>())?;
    date_time(
        year,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
        time,
    )
}

/// Dates as people write them: `September 26, 2004`, `Sunday, Sep 26th 2004 10:00 am`,
/// `26 September 2004`, `26th Sept. 2004 at 14:05`.
fn parse_human(text: &str) -> Option<DateTime> {
    let mut words: Vec<&str> = text
        .split([' ', ',', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    // A leading weekday name ("Sunday", "Sun").
    if words.first().is_some_and(|w| {
        let w = w.to_ascii_lowercase();
        w.len() >= 3
            && [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ]
            .iter()
            .any(|d| d.starts_with(w.trim_end_matches('.')))
    }) {
        words.remove(0);
    }
    let day_number = |w: &str| {
        w.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<u8>()
            .ok()
    };
    let (month, day) = match words.as_slice() {
        [m, d, ..] if month_number(m).is_some() => (month_number(m)?, day_number(d)?),
        [d, m, ..] => (month_number(m)?, day_number(d)?),
        _ => return None,
    };
    let year: u16 = words.get(2)?.parse().ok()?;
    let rest: Vec<&str> = words[3..].iter().copied().filter(|w| *w != "at").collect();
    date_time(year, month, day, parse_time(&rest)?)
}

/// A checked date and time of day.
fn date_time(
    year: u16,
    month: u8,
    day: u8,
    (hour, minute, second): (u8, u8, u8),
) -> Option<DateTime> {
    valid(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    })
}

/// `[]`, `["10:00"]`, `["10:00:05", "pm"]`, `["10:00pm"]` -> (hour, minute, second).
fn parse_time(words: &[&str]) -> Option<(u8, u8, u8)> {
    let Some(first) = words.first() else {
        return Some((0, 0, 0));
    };
    let lower = first.to_ascii_lowercase();
    let (clock, suffix) = match lower.find(['a', 'p']) {
        Some(i) => (&lower[..i], lower[i..].to_string()),
        None => (
            lower.as_str(),
            words
                .get(1)
                .map(|w| w.to_ascii_lowercase())
                .unwrap_or_default(),
        ),
    };
    let mut parts = clock.split(':').map(|p| p.parse::<u8>());
    let mut hour = parts.next()?.ok()?;
    let minute = parts.next().transpose().ok()?.unwrap_or(0);
    let second = parts.next().transpose().ok()?.unwrap_or(0);
    match suffix.trim_end_matches('.').replace('.', "").as_str() {
        "pm" if hour < 12 => hour += 12,
        "am" if hour == 12 => hour = 0,
        _ => {}
    }
    Some((hour, minute, second))
}

fn parse_iso(text: &str) -> Option<DateTime> {
    let b = text.as_bytes();
    if b.len() < 10 || !(b[4] == b'-' || b[4] == b'/') || b[7] != b[4] {
        return None;
    }
    let num = |s: &str| s.parse::<u16>().ok();
    let year = num(&text[0..4])?;
    let month = num(&text[5..7])? as u8;
    let day = num(&text[8..10])? as u8;
    let (mut hour, mut minute, mut second) = (0u8, 0u8, 0u8);
    let rest = &text[10..];
    if let Some(time) = rest.strip_prefix([' ', 'T']) {
        let parts: Vec<&str> = time.split(|c: char| !c.is_ascii_digit()).take(3).collect();
        hour = parts.first().and_then(|s| s.parse().ok()).unwrap_or(0);
        minute = parts.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        second = parts.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    }
    date_time(year, month, day, (hour, minute, second))
}

fn parse_rfc2822(text: &str) -> Option<DateTime> {
    // "Thu, 05 Jan 2012 14:30:46 +0000" (the weekday is optional)
    let text = text.split_once(',').map_or(text, |(_, rest)| rest).trim();
    let mut parts = text.split_whitespace();
    let day = parts.next()?.parse().ok()?;
    let month_name = parts.next()?.to_ascii_lowercase();
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = MONTHS.iter().position(|m| month_name.starts_with(m))? as u8 + 1;
    let year = parts.next()?.parse().ok()?;
    let time: Vec<u8> = parts
        .next()
        .unwrap_or("")
        .split(':')
        .filter_map(|s| s.parse().ok())
        .collect();
    valid(DateTime {
        year,
        month,
        day,
        hour: time.first().copied().unwrap_or(0),
        minute: time.get(1).copied().unwrap_or(0),
        second: time.get(2).copied().unwrap_or(0),
    })
}

fn valid(d: DateTime) -> Option<DateTime> {
    (d.year >= 1
        && (1..=12).contains(&d.month)
        && (1..=31).contains(&d.day)
        && d.hour < 24
        && d.minute < 60
        && d.second < 61)
        .then_some(d)
}

/// A `--since`/`--until` bound: `2020`, `2020-05` or `2020-05-17` (or a full date-time). The
/// start of that period for `since`, its end for `until`, so both ends are inclusive.
pub fn parse_bound(text: &str, end: bool) -> Result<DateTime, String> {
    let text = text.trim();
    let bad = || format!("bad date {text:?}: use YYYY, YYYY-MM or YYYY-MM-DD");
    let parts: Vec<&str> = text.split('-').collect();
    let whole = |year, month, day| {
        let d = if end {
            DateTime {
                year,
                month,
                day,
                hour: 23,
                minute: 59,
                second: 59,
            }
        } else {
            DateTime {
                year,
                month,
                day,
                hour: 0,
                minute: 0,
                second: 0,
            }
        };
        valid(d).ok_or_else(bad)
    };
    let num = |s: &str| s.parse::<u16>().map_err(|_| bad());
    match parts.as_slice() {
        [y] if y.len() == 4 => whole(num(y)?, if end { 12 } else { 1 }, if end { 31 } else { 1 }),
        [y, m] if y.len() == 4 => {
            let (year, month) = (num(y)?, num(m)? as u8);
            let last = days_in_month(year, month);
            whole(year, month, if end { last } else { 1 })
        }
        _ => match parse_date(text) {
            Some(d) if text.len() <= 10 => whole(d.year, d.month, d.day),
            Some(d) => Ok(d),
            None => Err(bad()),
        },
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = parse_date("2008-09-03 09:59:54").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2008, 9, 3, 9, 59, 54)
        );
        assert_eq!(
            parse_date("2017-02-26 00:18:43 +0100").unwrap().to_string(),
            "2017-02-26"
        );
        assert_eq!(
            parse_date("Thu, 05 Jan 2012 14:30:46 +0000")
                .unwrap()
                .to_string(),
            "2012-01-05"
        );
        assert_eq!(parse_date("0000-00-00 00:00:00"), None);
        for (text, want) in [
            ("September 26, 2004", "2004-09-26 00:00"),
            ("Sunday, Sept. 26th 2004 at 10:05 pm", "2004-09-26 22:05"),
            ("26 September 2004", "2004-09-26 00:00"),
            ("26th Sep 2004 12:30am", "2004-09-26 00:30"),
            ("09/26/2004", "2004-09-26 00:00"),
            ("26/09/2004 10:00", "2004-09-26 10:00"),
            ("26.09.2004", "2004-09-26 00:00"),
        ] {
            let d = parse_date(text).unwrap_or_else(|| panic!("{text}"));
            let got = format!("{d} {:02}:{:02}", d.hour, d.minute);
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(parse_date("Maybe 26, 2004"), None);
        assert_eq!(parse_date("13/13/2004"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_bound("2020", true).unwrap().to_string(), "2020-12-31");
        assert_eq!(
            parse_bound("2020-02", true).unwrap().to_string(),
            "2020-02-29"
        );
        assert_eq!(
            parse_bound("2020-02", false).unwrap().to_string(),
            "2020-02-01"
        );
        assert!(parse_bound("2020-13-01", false).is_err());
        assert!(parse_bound("soon", false).is_err());
    }

    #[test]
    fn patterns_fall_back_to_literals() {
        assert!(Pattern::new("so what").is_match("So What: part 2"));
        assert!(Pattern::new("^so what").is_match("So What"));
        assert!(!Pattern::new("^so what").is_match("And So What"));
        assert!(Pattern::new("C++ (draft").is_match("my c++ (draft notes"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Tag 1"), "tag-1");
        assert_eq!(slugify("  Édition spéciale! "), "édition-spéciale");
    }
}
