//! Bilingual text: Bahasa Indonesia by default, English on request.
//!
//! Every message a person reads (errors, field problems) is a [`Text`] carrying both
//! languages; the HTTP layer picks one from `Accept-Language`.

use std::borrow::Cow;

/// The language of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Bahasa Indonesia, the default.
    #[default]
    Id,
    /// English, when the client asks for it with `Accept-Language: en`.
    En,
}

impl Lang {
    /// Reads an `Accept-Language` header value: English only when an `en` tag is preferred
    /// over any `id` tag; everything else is Bahasa Indonesia.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Id;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else if tag == "id" || tag.starts_with("id-") || tag == "in" {
                Lang::Id
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Id)
    }
}

/// A message in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub id: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Text {
    /// A message fixed at compile time.
    pub const fn fixed(id: &'static str, en: &'static str) -> Text {
        Text {
            id: Cow::Borrowed(id),
            en: Cow::Borrowed(en),
        }
    }

    /// A message built at run time.
    pub fn new(id: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            id: Cow::Owned(id.into()),
            en: Cow::Owned(en.into()),
        }
    }

    /// The message in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Id => &self.id,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_defaults_to_indonesian() {
        assert_eq!(Lang::from_accept_language(None), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("id-ID,id;q=0.9")), Lang::Id);
    }

    #[test]
    fn accept_language_english_when_preferred() {
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("id;q=0.5, en;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language(Some("en;q=0.5, id")), Lang::Id);
    }
}
