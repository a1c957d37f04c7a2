//! [`Selector`]: label and field selectors with Kubernetes' syntax and
//! meaning.
//!
//! # Label selectors
//! [`Selector::parse`] reads the syntax of `kubectl -l` and the
//! `labelSelector` query parameter: requirements separated by commas, all
//! of which must hold (a repeated key adds one more requirement):
//!
//! | requirement | holds when the label |
//! |---|---|
//! | `key=v`, `key==v` | is present with value `v` |
//! | `key!=v` | is absent, or present with another value |
//! | `key in (a,b)` | is present with one of the values |
//! | `key notin (a,b)` | is absent, or present with none of the values |
//! | `key` | is present |
//! | `!key` | is absent |
//! | `key>n`, `key<n` | is present and an integer greater (less) than `n` |
//!
//! Keys and values are checked as Kubernetes checks them (a key is an
//! optional DNS-subdomain prefix and `/`, then a name of at most 63
//! characters of `[A-Za-z0-9_.-]` starting and ending alphanumeric; a value
//! is empty or a name). The empty string selects everything.
//!
//! # Field selectors
//! [`Selector::parse_fields`] reads the `fieldSelector` syntax: `key=v`,
//! `key==v`, `key!=v`, comma-separated, with `\` escaping `\`, `,` and `=`
//! inside values. A field an object does not carry counts as the empty
//! string (Kubernetes' field sets always hold every supported field).
//! Which field names are valid is the cache's business: it rejects a field
//! it does not extract ([`WatchError::InvalidSelector`]).

use std::fmt;
use std::str::FromStr;

use super::error::WatchError;
use super::event::StrMap;

/// How a [`Requirement`] compares a label or field with its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `key=v` or `key==v`: present with the value.
    Equals,
    /// `key!=v`: absent, or another value.
    NotEquals,
    /// `key in (a,b)`: present with one of the values.
    In,
    /// `key notin (a,b)`: absent, or none of the values.
    NotIn,
    /// `key`: present.
    Exists,
    /// `!key`: absent.
    DoesNotExist,
    /// `key>n`: present and an integer greater than `n`.
    GreaterThan,
    /// `key<n`: present and an integer less than `n`.
    LessThan,
}

/// One requirement of a [`Selector`]: a key, an operator and its values
/// (one for `=`, `!=`, `>`, `<`; one or more for `in`, `notin`; none for
/// existence).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// The label or field name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values (see the type's docs for how many each operator has).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether the requirement holds for `value`, the label's or field's
    /// value (`None`: absent).
    fn holds(&self, value: Option<&str>) -> bool {
        match self.op {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| self.values.iter().all(|x| x != v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), Some(bound)) = (value, self.values.first()) else {
                    return false;
                };
                match (v.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(v), Ok(b)) if self.op == Operator::GreaterThan => v > b,
                    (Ok(v), Ok(b)) => v < b,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = self.values.first().map_or("", String::as_str);
        match self.op {
            Operator::Equals => write!(f, "{}={one}", self.key),
            Operator::NotEquals => write!(f, "{}!={one}", self.key),
            Operator::GreaterThan => write!(f, "{}>{one}", self.key),
            Operator::LessThan => write!(f, "{}<{one}", self.key),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
        }
    }
}

/// A selector: requirements that must all hold.
///
/// The same type serves as a label selector (matched against an object's
/// labels) and as a field selector (matched against its fields, where an
/// absent field counts as `""`). The empty selector matches everything.
/// Build one from Kubernetes syntax ([`parse`](Selector::parse),
/// [`parse_fields`](Selector::parse_fields), or `str::parse` for labels),
/// or from equality pairs ([`with`](Selector::with), `collect()`, or
/// `From<&StrMap>`). Two equalities on one key with different values
/// match nothing.
///
/// ```
/// use edgecache::watch::{Selector, StrMap};
/// let s = Selector::parse("app in (web,api), !canary, tier!=db").unwrap();
/// let labels: StrMap = [("app".to_owned(), "web".to_owned())].into();
/// assert!(s.matches(&labels));
/// assert_eq!(s.len(), 3);
///
/// let eq = Selector::new().with("app", "web");
/// assert!(eq.matches(&labels));
/// assert!(Selector::everything().is_empty());
/// assert!(Selector::parse("app in ()").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    /// In the order given; duplicates kept (they AND).
    reqs: Vec<Requirement>,
}

impl Selector {
    /// The empty selector.
    pub fn new() -> Self {
        Selector::default()
    }

    /// The empty selector, which matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Adds the requirement `name = value` (not validated: any strings).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.reqs.push(Requirement { key: name.into(), op: Operator::Equals, values: vec![value.into()] });
        self
    }

    /// Parses a label selector in Kubernetes syntax (see the module docs).
    ///
    /// # Errors
    /// [`WatchError::InvalidSelector`] naming what is wrong: a syntax
    /// error, an invalid key or value, an empty `in ()` set, a non-integer
    /// bound of `>` or `<`.
    pub fn parse(s: &str) -> Result<Selector, WatchError> {
        LabelParser { toks: lex(s)?, pos: 0, src: s }.parse()
    }

    /// Parses a field selector in Kubernetes syntax: `key=v`, `key==v`,
    /// `key!=v`, comma-separated; `\` escapes `\`, `,` and `=`.
    ///
    /// # Errors
    /// [`WatchError::InvalidSelector`] for a term without an operator, an
    /// empty key, or a bad escape.
    pub fn parse_fields(s: &str) -> Result<Selector, WatchError> {
        let mut reqs = Vec::new();
        for term in split_unescaped(s, ',') {
            if term.is_empty() {
                continue;
            }
            let (key, op, value) = split_field_term(term).ok_or_else(|| {
                WatchError::invalid_selector(format!(
                    "invalid field selector term {term:?}: expected key=value, key==value or key!=value"
                ))
            })?;
            let key = unescape(key, s)?;
            if key.is_empty() {
                return Err(WatchError::invalid_selector(format!(
                    "invalid field selector term {term:?}: empty field name"
                )));
            }
            reqs.push(Requirement { key, op, values: vec![unescape(value, s)?] });
        }
        Ok(Selector { reqs })
    }

    /// Both selectors' requirements: matches what both match.
    #[must_use]
    pub fn and(mut self, other: Selector) -> Self {
        self.reqs.extend(other.reqs);
        self
    }

    /// True when the selector has no requirement and matches everything.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The number of requirements.
    pub fn len(&self) -> usize {
        self.reqs.len()
    }

    /// The requirements, in the order given.
    pub fn requirements(&self) -> &[Requirement] {
        &self.reqs
    }

    /// The `key = value` requirements (with `in` of a single value), which
    /// an index can answer.
    pub(crate) fn equalities(&self) -> impl Iterator<Item = (&str, &str)> {
        self.reqs.iter().filter_map(|r| match (r.op, r.values.as_slice()) {
            (Operator::Equals | Operator::In, [v]) => Some((r.key.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// True when every requirement holds in `labels` (a label selector's
    /// meaning: an absent key is absent).
    pub fn matches(&self, labels: &StrMap) -> bool {
        self.reqs.iter().all(|r| r.holds(labels.get(r.key.as_str()).map(String::as_str)))
    }

    /// True when every requirement holds in `fields`, an absent field
    /// counting as `""` (a field selector's meaning).
    pub fn matches_fields(&self, fields: &StrMap) -> bool {
        self.reqs.iter().all(|r| r.holds(Some(fields.get(r.key.as_str()).map_or("", String::as_str))))
    }

    /// Checks that this selector can serve as a field selector on a cache
    /// whose extracted fields `known` accepts: only `=`, `==` and `!=`, and
    /// only known fields.
    pub(crate) fn check_fields(&self, known: impl Fn(&str) -> bool) -> Result<(), WatchError> {
        for r in &self.reqs {
            if !matches!(r.op, Operator::Equals | Operator::NotEquals) {
                return Err(WatchError::invalid_selector(format!(
                    "field selector requirement {r} uses an operator fields do not support (only =, == and !=)"
                )));
            }
            if !known(&r.key) {
                return Err(WatchError::invalid_selector(format!("field label not supported: {}", r.key)));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Selector {
    /// The requirements in Kubernetes label syntax, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.reqs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = WatchError;

    /// [`Selector::parse`]: a label selector.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Selector {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        iter.into_iter().fold(Selector::new(), |s, (k, v)| s.with(k, v))
    }
}

impl From<&StrMap> for Selector {
    fn from(map: &StrMap) -> Self {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

// ---- label syntax ------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Comma,
    Open,
    Close,
    Eq,
    DoubleEq,
    NotEq,
    Bang,
    Gt,
    Lt,
}

/// Splits a label selector into tokens. Identifiers are runs of characters
/// other than white space and `,()=!<>`.
fn lex(s: &str) -> Result<Vec<Tok<'_>>, WatchError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let two = b.get(i + 1).copied();
        let (tok, n) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b',' => (Tok::Comma, 1),
            b'(' => (Tok::Open, 1),
            b')' => (Tok::Close, 1),
            b'=' if two == Some(b'=') => (Tok::DoubleEq, 2),
            b'=' => (Tok::Eq, 1),
            b'!' if two == Some(b'=') => (Tok::NotEq, 2),
            b'!' => (Tok::Bang, 1),
            b'>' => (Tok::Gt, 1),
            b'<' => (Tok::Lt, 1),
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b',' | b'(' | b')' | b'=' | b'!' | b'<' | b'>')
                {
                    i += 1;
                }
                // Splitting at ASCII bytes keeps UTF-8 boundaries.
                out.push(Tok::Ident(&s[start..i]));
                continue;
            }
        };
        out.push(tok);
        i += n;
    }
    Ok(out)
}

struct LabelParser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    src: &'a str,
}

impl<'a> LabelParser<'a> {
    fn err(&self, what: impl fmt::Display) -> WatchError {
        WatchError::invalid_selector(format!("unable to parse label selector {:?}: {what}", self.src))
    }

    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }

    fn bump(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn parse(mut self) -> Result<Selector, WatchError> {
        let mut reqs = Vec::new();
        if self.toks.is_empty() {
            return Ok(Selector { reqs });
        }
        loop {
            reqs.push(self.requirement()?);
            match self.bump() {
                None => break,
                Some(Tok::Comma) if self.peek().is_some() => continue,
                Some(Tok::Comma) => return Err(self.err("a comma must be followed by a requirement")),
                Some(t) => return Err(self.err(format!("expected a comma, found {t:?}"))),
            }
        }
        Ok(Selector { reqs })
    }

    fn requirement(&mut self) -> Result<Requirement, WatchError> {
        if self.peek() == Some(&Tok::Bang) {
            self.pos += 1;
            let key = self.key()?;
            return Ok(Requirement { key, op: Operator::DoesNotExist, values: Vec::new() });
        }
        let key = self.key()?;
        let op = match self.peek() {
            None | Some(Tok::Comma) => return Ok(Requirement { key, op: Operator::Exists, values: Vec::new() }),
            Some(Tok::Eq | Tok::DoubleEq) => Operator::Equals,
            Some(Tok::NotEq) => Operator::NotEquals,
            Some(Tok::Gt) => Operator::GreaterThan,
            Some(Tok::Lt) => Operator::LessThan,
            Some(Tok::Ident("in")) => Operator::In,
            Some(Tok::Ident("notin")) => Operator::NotIn,
            Some(t) => return Err(self.err(format!("expected an operator after {key:?}, found {t:?}"))),
        };
        self.pos += 1;
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => {
                // An empty value (`app=`) is allowed.
                let v = match self.peek() {
                    Some(Tok::Ident(v)) => {
                        let v = (*v).to_owned();
                        self.pos += 1;
                        v
                    }
                    _ => String::new(),
                };
                vec![v]
            }
        };
        for v in &values {
            check_value(v).map_err(|e| self.err(e))?;
        }
        if matches!(op, Operator::GreaterThan | Operator::LessThan) && values[0].parse::<i64>().is_err() {
            return Err(self.err(format!("for '>' and '<' the value must be an integer, not {:?}", values[0])));
        }
        Ok(Requirement { key, op, values })
    }

    fn key(&mut self) -> Result<String, WatchError> {
        match self.bump() {
            Some(Tok::Ident(k)) => {
                check_key(k).map_err(|e| self.err(e))?;
                Ok(k.to_owned())
            }
            Some(t) => Err(self.err(format!("expected a key, found {t:?}"))),
            None => Err(self.err("expected a key, found the end")),
        }
    }

    fn value_set(&mut self) -> Result<Vec<String>, WatchError> {
        if self.bump() != Some(Tok::Open) {
            return Err(self.err("expected '(' after in/notin"));
        }
        let mut values = Vec::new();
        loop {
            match self.bump() {
                Some(Tok::Ident(v)) => values.push(v.to_owned()),
                Some(Tok::Close) if values.is_empty() => {
                    return Err(self.err("for 'in' and 'notin' the set of values must not be empty"));
                }
                Some(t) => return Err(self.err(format!("expected a value, found {t:?}"))),
                None => return Err(self.err("expected a value, found the end")),
            }
            match self.bump() {
                Some(Tok::Comma) => continue,
                Some(Tok::Close) => break,
                Some(t) => return Err(self.err(format!("expected ',' or ')', found {t:?}"))),
                None => return Err(self.err("expected ')', found the end")),
            }
        }
        Ok(values)
    }
}

/// A Kubernetes name: 1 to 63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends.
fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A DNS subdomain: at most 253 characters, dot-separated labels of
/// `[a-z0-9-]` that start and end alphanumeric.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn check_key(k: &str) -> Result<(), String> {
    let ok = match k.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_name(name),
        None => is_name(k),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid label key {k:?}: a name of at most 63 characters of [A-Za-z0-9_.-] beginning and ending \
             alphanumeric, with an optional DNS subdomain prefix and '/'"
        ))
    }
}

fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() || is_name(v) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value {v:?}: empty, or at most 63 characters of [A-Za-z0-9_.-] beginning and ending \
             alphanumeric"
        ))
    }
}

// ---- field syntax ------------------------------------------------------

/// Splits `s` at every `sep` not preceded by an escaping backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// Splits a field term at its first unescaped operator: `!=`, `==` or `=`.
fn split_field_term(term: &str) -> Option<(&str, Operator, &str)> {
    let b = term.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'!' if b.get(i + 1) == Some(&b'=') => return Some((&term[..i], Operator::NotEquals, &term[i + 2..])),
            b'=' if b.get(i + 1) == Some(&b'=') => return Some((&term[..i], Operator::Equals, &term[i + 2..])),
            b'=' => return Some((&term[..i], Operator::Equals, &term[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// Removes the escaping backslashes of `\\`, `\,` and `\=`.
fn unescape(s: &str, src: &str) -> Result<String, WatchError> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(e @ ('\\' | ',' | '=')) => out.push(e),
            other => {
                return Err(WatchError::invalid_selector(format!(
                    "invalid field selector {src:?}: bad escape sequence \\{}",
                    other.map(String::from).unwrap_or_default()
                )));
            }
        }
    }
    Ok(out)
}

/// A label selector and a field selector together: what a list or a watcher
/// filters by.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub(crate) labels: Selector,
    pub(crate) fields: Selector,
}

impl Filter {
    pub(crate) fn new(labels: &Selector, fields: &Selector) -> Self {
        Filter { labels: labels.clone(), fields: fields.clone() }
    }

    pub(crate) fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub(crate) fn matches(&self, labels: &StrMap, fields: &StrMap) -> bool {
        self.labels.matches(labels) && self.fields.matches_fields(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> StrMap {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn label_operators_follow_kubernetes() {
        let web = m(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        let none = m(&[]);
        let cases: &[(&str, bool, bool)] = &[
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("app!=db", true, true),
            ("app in (web, api)", true, false),
            ("app notin (web,api)", false, true),
            ("app", true, false),
            ("!app", false, true),
            ("app,!canary", true, false),
            ("n>4", true, false),
            ("n<5", false, false),
            ("app=web,app=api", false, false),
            ("app=web,tier=front", true, false),
            ("app=", false, false),
            ("app!=", true, true),
        ];
        for (src, on_web, on_none) in cases {
            let s = Selector::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(s.matches(&web), *on_web, "{src} on web");
            assert_eq!(s.matches(&none), *on_none, "{src} on no labels");
        }
    }

    #[test]
    fn bad_label_selectors_are_rejected_with_a_reason() {
        for bad in [
            "app in ()",
            "app in (a",
            "app=web,",
            ",app",
            "app=web x",
            "-bad=1",
            "app=-bad",
            "n>x",
            "a/b/c=1",
            "UPPER.example.com/x=1",
            "app in web",
            "=x",
        ] {
            let e = Selector::parse(bad).unwrap_err();
            assert!(matches!(e, WatchError::InvalidSelector(_)), "{bad}: {e}");
        }
        let long = "a".repeat(64);
        assert!(Selector::parse(&long).is_err());
        assert!(Selector::parse(&"a".repeat(63)).is_ok());
        assert!(Selector::parse("example.com/app=web").is_ok());
    }

    #[test]
    fn field_selectors_parse_escapes_and_treat_absent_as_empty() {
        let s = Selector::parse_fields("metadata.name=a\\,b,spec.nodeName!=n1").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.requirements()[0].values(), ["a,b"]);
        assert!(s.matches_fields(&m(&[("metadata.name", "a,b")])));
        assert!(!s.matches_fields(&m(&[("metadata.name", "a,b"), ("spec.nodeName", "n1")])));
        let empty = Selector::parse_fields("spec.nodeName=").unwrap();
        assert!(empty.matches_fields(&m(&[])));
        assert!(Selector::parse_fields("novalue").is_err());
        assert!(Selector::parse_fields("=x").is_err());
        assert!(Selector::parse_fields("a=\\q").is_err());
        assert!(Selector::parse_fields("").unwrap().is_empty());
        assert_eq!(Selector::parse_fields("a==b").unwrap().requirements()[0].operator(), Operator::Equals);
    }

    #[test]
    fn display_round_trips() {
        for src in ["app=web", "app!=web", "app in (a,b)", "app notin (a)", "app", "!app", "n>3", "x=web,!y"] {
            let s = Selector::parse(src).unwrap();
            assert_eq!(Selector::parse(&s.to_string()).unwrap(), s, "{src}");
        }
    }
}
