//! What every face's request parser shares: deserializing a body with serde straight from its bytes, errors located
//! by `serde_path_to_error` (`messages[3].content[1].type: …`), text that borrows from the body, and visitors that
//! answer a wrongly shaped value in jbproxy's words rather than serde's.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::TranslateError;

/// How much of serde's own message an error keeps: it may quote the client's value, and an error must never carry
/// a whole prompt back.
const MAX_DETAIL_CHARS: usize = 200;

/// Parses a request body into `T`. A JSON syntax error, or a data error at the top level (a missing `model`), reads
/// `invalid request body: …` with serde's position; a data error inside names its path.
///
/// The path tracker copies every object key it passes, so it runs only when a body turned out malformed: a second
/// parse then finds where. (Errors of meaning, such as a missing role, are found while converting and carry their
/// own paths.)
pub fn body<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, TranslateError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(err) => Err(locate::<T>(bytes).unwrap_or_else(|| located(err, "."))),
    }
}

/// The error of a body that failed to parse, with its path; `None` if it parses after all.
fn locate<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<TranslateError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(err) => {
            let path = err.path().to_string();
            Some(located(err.into_inner(), &path))
        }
        Ok(_) => de.end().err().map(|err| located(err, ".")),
    }
}

fn located(err: serde_json::Error, path: &str) -> TranslateError {
    let located = path != "." && err.classify() == serde_json::error::Category::Data;
    if !located {
        return TranslateError {
            message: format!(
                "invalid request body: {}",
                short(&err.to_string(), MAX_DETAIL_CHARS)
            ),
            param: None,
        };
    }
    // The path says where; serde's line and column say it again, less readably.
    let full = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let detail = full.strip_suffix(&position).unwrap_or(&full);
    TranslateError::at(path, short(detail, MAX_DETAIL_CHARS))
}

/// At most `chars` characters of `text`, marked when cut.
fn short(text: &str, chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// A JSON string that borrows from the body when it has no escapes. (serde borrows a `Cow` only when it is a
/// field's own type, not inside an `Option`, hence the newtype.)
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn into_cow(self) -> Cow<'a, str> {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A content part's `type` (`kind`), which every part must have.
    pub fn part_type<'p>(
        kind: Option<&'p Text<'_>>,
        at: crate::translate::conversation::Source,
    ) -> Result<&'p str, TranslateError> {
        kind.map(Text::as_str)
            .ok_or_else(|| TranslateError::at(at.field(".type"), "is required"))
    }

    /// A part's string field `key` that its type requires.
    pub fn required(
        text: Option<Text<'a>>,
        key: &str,
        at: crate::translate::conversation::Source,
    ) -> Result<Cow<'a, str>, TranslateError> {
        text.map(Text::into_cow)
            .ok_or_else(|| TranslateError::at(at.field(key), "must be a string"))
    }
}

/// Deserializes a `T` that must be a JSON object; any other value is an error saying `message` (`must be an object
/// with a role`), at the value's own path.
pub struct Object<T> {
    message: &'static str,
    marker: PhantomData<fn() -> T>,
}

impl<T> Object<T> {
    pub fn new(message: &'static str) -> Self {
        Object {
            message,
            marker: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Object<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Visitor methods that refuse their value with the visitor's `refusal()`, whatever serde would have said about
/// its type.
macro_rules! refuse {
    ($($method:ident($($arg:ty)?)),* $(,)?) => {
        $(fn $method<E: de::Error>(self $(, _: $arg)?) -> Result<Self::Value, E> {
            Err(E::custom(self.refusal()))
        })*
    };
}

impl<T> Object<T> {
    fn refusal(&self) -> &'static str {
        self.message
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        Err(de::Error::custom(self.refusal()))
    }

    refuse!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_unit(),
    );
}

/// A `T` that must be a JSON object; any other value is refused with `must be an object`.
#[derive(Debug)]
pub struct AnObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for AnObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Object::new("must be an object")
            .deserialize(deserializer)
            .map(AnObject)
    }
}

/// An array element that is converted as soon as it is parsed (`Self` is its wire shape), so a long array never
/// exists twice, once parsed and once converted.
pub trait Convert {
    /// What serde says when the array is not an array (`an array of messages`).
    const ARRAY: &'static str;
    /// The error for an element that is not an object (`must be an object with a role`).
    const NOT_AN_OBJECT: &'static str;
    type Output;
    /// The element at `index`, or the semantic error that ends the conversion.
    fn convert(self, index: usize) -> Result<Self::Output, TranslateError>;
}

/// An array of `W` converted while it is read. The first semantic error (a missing role, an unknown part type)
/// ends conversion and is kept, with its path; the rest of the array is then skipped, not parsed. Shape errors
/// (a string where an array belongs) stop parsing altogether, located by the path tracker.
pub struct Converted<W: Convert>(pub Result<Vec<W::Output>, TranslateError>);

impl<'de, W: Convert + Deserialize<'de>> Deserialize<'de> for Converted<W> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ConvertVisitor::<W>(PhantomData))
    }
}

struct ConvertVisitor<W>(PhantomData<fn() -> W>);

impl<'de, W: Convert + Deserialize<'de>> Visitor<'de> for ConvertVisitor<W> {
    type Value = Converted<W>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(W::ARRAY)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(Object::<W>::new(W::NOT_AN_OBJECT))? {
            match item.convert(out.len()) {
                Ok(converted) => out.push(converted),
                Err(err) => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Converted(Err(err)));
                }
            }
        }
        Ok(Converted(Ok(out)))
    }
}

/// An element of content given as a string or as an array of such elements (OpenAI content parts, Anthropic
/// blocks).
pub trait Listed {
    /// What serde says when the content is neither (`a string or an array of content parts`).
    const EXPECTING: &'static str;
    /// The error for an element that is not an object.
    const NOT_AN_OBJECT: &'static str;
}

/// Content: a string (borrowed when it can be), or a list of parts.
pub enum TextOr<'a, T> {
    Text(Cow<'a, str>),
    List(Vec<T>),
}

impl<'de: 'a, 'a, T: Listed + Deserialize<'de>> Deserialize<'de> for TextOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrVisitor(PhantomData, PhantomData))
    }
}

struct TextOrVisitor<'a, T>(PhantomData<&'a ()>, PhantomData<fn() -> T>);

impl<'de: 'a, 'a, T: Listed + Deserialize<'de>> Visitor<'de> for TextOrVisitor<'a, T> {
    type Value = TextOr<'a, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(TextOr::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(TextOr::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(TextOr::Text(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Object::new(T::NOT_AN_OBJECT))? {
            items.push(item);
        }
        Ok(TextOr::List(items))
    }
}

/// A JSON value as compact JSON text, whatever its type: tool-call arguments some clients send as an object
/// rather than as the string OpenAI specifies. A string stays the string (borrowed when it can be).
#[derive(Debug)]
pub struct JsonText<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for JsonText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonTextVisitor(PhantomData))
    }
}

struct JsonTextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for JsonTextVisitor<'a> {
    type Value = JsonText<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON text")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonText(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonText(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonText(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(compact(&serde_json::Value::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(compact(&serde_json::Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(compact(&serde_json::Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(compact(&serde_json::Value::from(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(compact(&serde_json::Value::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(compact(&value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(compact(&value))
    }
}

fn compact(value: &serde_json::Value) -> JsonText<'static> {
    JsonText(Cow::Owned(value.to_string()))
}

/// A JSON Schema object, or `null` for none; anything else is refused in the words the faces have always used.
#[derive(Debug, Default)]
pub struct Schema(pub Option<serde_json::Map<String, serde_json::Value>>);

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SchemaVisitor)
    }
}

struct SchemaVisitor;

impl<'de> Visitor<'de> for SchemaVisitor {
    type Value = Schema;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEMA_MESSAGE)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Schema, E> {
        Ok(Schema(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Schema, A::Error> {
        let object = serde_json::Map::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Schema(Some(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Schema, A::Error> {
        Err(de::Error::custom(SCHEMA_MESSAGE))
    }

    refuse!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
    );
}

const SCHEMA_MESSAGE: &str = "must be a JSON Schema object";

impl SchemaVisitor {
    fn refusal(&self) -> &'static str {
        SCHEMA_MESSAGE
    }
}
