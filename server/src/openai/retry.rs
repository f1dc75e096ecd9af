//! When and how long to wait before repeating a failed HTTP call: exponential backoff with full
//! jitter, and the server's `Retry-After` (seconds or an HTTP date) or `retry-after-ms` when given.

use std::time::{Duration, SystemTime};

/// How a client retries. The defaults suit the OpenAI API; tests shorten the delays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts in all).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles with each further retry.
    pub base_delay: Duration,
    /// Ceiling of the exponential backoff.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for; the call fails instead, so the user
    /// is not left staring at a frozen command for an hour-long quota reset.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with this status (429, 5xx, ...).
    Status(u16),
    /// The connection could not be opened: the request surely never reached the server.
    Connect,
    /// Timed out or the connection dropped after the request was (maybe) sent: the server may
    /// or may not have acted on it.
    Ambiguous,
}

impl Failure {
    /// Whether this failure is worth another attempt at all.
    pub fn is_transient(self) -> bool {
        match self {
            Failure::Status(s) => s == 408 || s == 409 || s == 429 || s >= 500,
            Failure::Connect | Failure::Ambiguous => true,
        }
    }

    /// Whether the server may have carried out the request even though we saw a failure. A
    /// 429 or a refused connection means it did not; a 5xx, a timeout or a dropped connection
    /// leave it open, so a non-idempotent call must check before repeating itself.
    pub fn maybe_applied(self) -> bool {
        match self {
            Failure::Status(s) => s >= 500,
            Failure::Connect => false,
            Failure::Ambiguous => true,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter for retry number `retry` (0 = the first retry):
    /// a uniform draw in [d/2, d] where d = min(max_delay, base_delay * 2^retry). Keeping half
    /// the delay fixed avoids retrying almost at once while still spreading clients apart.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        let full = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = full / 2;
        let jitter_ns = fastrand::u64(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(jitter_ns)
    }

    /// How long to wait before retry number `retry`, or None if we should give up: the server's
    /// hint when it gave one (and it is not absurdly long), else the backoff.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        match retry_after {
            Some(d) if d > self.max_retry_after => None,
            Some(d) => Some(d),
            None => Some(self.backoff(retry)),
        }
    }
}

/// Reads `retry-after-ms` (OpenAI's millisecond hint), else `Retry-After` as seconds or as an
/// HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// `Retry-After: <seconds>` or `Retry-After: <IMF-fixdate>` (RFC 9110 section 10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || year < 1970 || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let secs = days as u64 * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_bounds_with_jitter() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
        };
        for retry in 0..10 {
            let full = (Duration::from_millis(100) * 2u32.pow(retry)).min(Duration::from_secs(2));
            let draws: Vec<Duration> = (0..200).map(|_| p.backoff(retry)).collect();
            assert!(
                draws.iter().all(|d| *d >= full / 2 && *d <= full),
                "{retry}"
            );
            // Jitter: not every draw is the same.
            assert!(draws.iter().any(|d| *d != draws[0]), "{retry}");
        }
        assert_eq!(p.delay(10, None), None);
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(p.delay(0, Some(Duration::from_secs(61))), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn failure_classes() {
        assert!(Failure::Status(429).is_transient());
        assert!(!Failure::Status(429).maybe_applied());
        assert!(Failure::Status(503).maybe_applied());
        assert!(!Failure::Status(400).is_transient());
        assert!(!Failure::Status(404).is_transient());
        assert!(Failure::Ambiguous.maybe_applied());
        assert!(!Failure::Connect.maybe_applied());
    }
}
