#pragma once
// A strict, single-pass JSON validator for one client message. It checks the
// whole text against RFC 8259 (grammar, UTF-8, escapes, number syntax, a
// nesting limit) without building a tree, and records where each top-level
// member of the object lies. The server then reads the few fields it needs
// from those spans and relays the sender's bytes as they are, so a relayed
// value keeps its exact text (key order, number spelling, whitespace inside
// values) and the message is never parsed twice.

#include <QByteArray>
#include <QByteArrayView>
#include <QLatin1StringView>
#include <QString>
#include <QVarLengthArray>

#include <initializer_list>
#include <optional>

namespace medrelay::protocol {

enum class JsonType : quint8 { Null, False, True, Number, String, Array, Object };

// One top-level member: offsets into the scanned text.
struct JsonMember
{
    qsizetype keyBegin = 0;   // the key's opening quote
    qsizetype keyEnd = 0;     // just after the key's closing quote
    qsizetype valueBegin = 0; // the value's first byte
    qsizetype valueEnd = 0;   // just after the value
    JsonType type = JsonType::Null;
    bool keyEscaped = false;   // the key contains a backslash escape
    bool valueEscaped = false; // a string value contains a backslash escape
};

struct JsonScanError
{
    qsizetype offset = 0;
    QString message;
    bool notAnObject = false; // valid JSON, but not an object
};

// A validated JSON object and the index of its top-level members. Holds a
// (shared, never copied) reference to the bytes it was scanned from.
class JsonObjectView
{
public:
    static constexpr int kMaxDepth = 128;
    static constexpr int kMaxMembers = 256; // top-level members

    // The text must be exactly one JSON object, optionally surrounded by
    // whitespace. Duplicate top-level keys are refused: a relay must not
    // route on one copy while recipients read the other.
    [[nodiscard]] static std::optional<JsonScanError> scan(const QByteArray &json, JsonObjectView &out);
    // Whether `json` is one valid JSON value of any type (for tests and fuzzing).
    [[nodiscard]] static bool isValidJson(QByteArrayView json);

    [[nodiscard]] const QByteArray &bytes() const { return m_bytes; }
    [[nodiscard]] qsizetype openBrace() const { return m_open; }
    [[nodiscard]] qsizetype closeBrace() const { return m_close; }
    [[nodiscard]] const QVarLengthArray<JsonMember, 12> &members() const { return m_members; }

    // The member with this (unescaped) key, or null.
    [[nodiscard]] const JsonMember *find(QLatin1StringView key) const;
    [[nodiscard]] bool contains(QLatin1StringView key) const { return find(key) != nullptr; }

    // The member's key and value exactly as written.
    [[nodiscard]] QByteArrayView rawKey(const JsonMember &m) const;
    [[nodiscard]] QByteArrayView rawValue(const JsonMember &m) const;
    // The member's key without quotes and escapes.
    [[nodiscard]] QString key(const JsonMember &m) const;
    // A string member's value, unescaped.
    [[nodiscard]] QString string(const JsonMember &m) const;
    // A string member's length in UTF-16 code units, without decoding it.
    [[nodiscard]] qsizetype stringLength(const JsonMember &m) const;
    // Whether a string member's length in UTF-16 code units is from `min`
    // to `max`; cheaper than stringLength() for long strings well within
    // the bound (a string never has more UTF-16 units than bytes).
    [[nodiscard]] bool stringLengthWithin(const JsonMember &m, qsizetype min, qsizetype max) const;
    // A number member's value as a double (exact for integers up to 2^53).
    [[nodiscard]] double number(const JsonMember &m) const;

    // The object's text with the members named in `drop` cut out and the
    // extra members added at the end: the chunks, concatenated, encode them
    // ("k":v,"k2":v2; may be empty). Every other member keeps its exact bytes
    // and its place.
    [[nodiscard]] QByteArray rewritten(const QLatin1StringView *dropBegin, const QLatin1StringView *dropEnd,
                                       const QByteArrayView *extraBegin, const QByteArrayView *extraEnd) const;
    [[nodiscard]] QByteArray rewritten(std::initializer_list<QLatin1StringView> drop,
                                       QByteArrayView extraMembers) const
    {
        return rewritten(drop.begin(), drop.end(), &extraMembers, &extraMembers + 1);
    }

private:
    QByteArray m_bytes;
    qsizetype m_open = 0;
    qsizetype m_close = 0;
    QVarLengthArray<JsonMember, 12> m_members;
};

// Appends `text` as a JSON string literal (quoted, escaped) to `out`.
void appendJsonString(QByteArray &out, QStringView text);
void appendJsonString(QByteArray &out, QLatin1StringView text);

} // namespace medrelay::protocol
