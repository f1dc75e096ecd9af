//! WordPress shortcodes: media shortcodes go with their content, layout wrappers keep their text.

use regex::Regex;
use std::sync::LazyLock;

/// A WordPress shortcode tag: `[gallery ids="1,2"]`, `[/caption]`, `[embed]`.
static SHORTCODE_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\[(/)?([A-Za-z][A-Za-z0-9_-]*)((?:\s[^\[\]]*)?)\]"#).unwrap());

/// Shortcodes whose content is media or markup, not prose: removed with their content.
const MEDIA_SHORTCODES: &[&str] = &[
    "caption",
    "wp_caption",
    "gallery",
    "embed",
    "video",
    "audio",
    "playlist",
    "youtube",
    "vimeo",
    "soundcloud",
    "spotify",
    "tweet",
    "instagram",
    "googlemaps",
    "code",
    "sourcecode",
    "source",
    "contact-form",
    "contact-form-7",
    "gravityform",
    "wpforms",
    "ninja_form",
    "mailchimp",
    "ad",
    "adsense",
    "wp_ad_camp_1",
];

/// Removes WordPress shortcodes. Media shortcodes go with their content; other shortcodes
/// (layout wrappers such as `[column]...[/column]`) lose their tags but keep their text. A
/// bracketed word that is not a shortcode (`[sic]`, `[1]`, a markdown link's `[text](url)`) is
/// left alone: it must be a media shortcode, have `key=value` attributes, or have a matching
/// closing tag.
pub fn remove_shortcodes(text: &str, count: &mut usize) -> String {
    if !text.contains('[') {
        return text.to_string();
    }
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for caps in SHORTCODE_TAG.captures_iter(text) {
        let m = caps.get(0).unwrap();
        if m.start() < pos {
            continue; // inside a removed media shortcode
        }
        let closing = caps.get(1).is_some();
        let name = caps[2].to_ascii_lowercase();
        let attrs = caps.get(3).map_or("", |a| a.as_str());
        let close_tag = format!("[/{name}]");
        let media = MEDIA_SHORTCODES.contains(&name.as_str());
        // `[source for x](url)` is a markdown link and `[audio hat]` prose: a shortcode's
        // attributes are `key=value` pairs, or one bare value (`[audio https://...mp3]`).
        let attrs_ok = attrs.trim().is_empty()
            || attrs.contains('=')
            || (media && !attrs.trim().contains(char::is_whitespace));
        let next = text[m.end()..].chars().next();
        if !attrs_ok || matches!(next, Some('(') | Some('[') | Some(':')) {
            continue;
        }
        let end = if closing {
            if media || lower[..m.start()].contains(&format!("[{name}")) {
                m.end()
            } else {
                continue;
            }
        } else if media {
            match lower[m.end()..].find(&close_tag) {
                Some(i) => m.end() + i + close_tag.len(),
                None => m.end(),
            }
        } else if attrs.contains('=') || lower[m.end()..].contains(&close_tag) {
            m.end()
        } else {
            continue;
        };
        out.push_str(&text[pos..m.start()]);
        pos = end;
        *count += 1;
    }
    out.push_str(&text[pos..]);
    out
}
