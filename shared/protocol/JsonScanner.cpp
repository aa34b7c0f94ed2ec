#include "protocol/JsonScanner.h"

#include <array>
#include <charconv>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cmath>
#include <cstring>

namespace medrelay::protocol {

using namespace Qt::StringLiterals;

namespace {

bool isWs(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Validates one JSON text. Iterative, with an explicit stack of open
// containers, so deep nesting costs no native stack.
class Scanner
{
public:
    Scanner(QByteArrayView text, bool recordMembers)
        : m_s(text.data())
        , m_n(text.size())
        , m_record(recordMembers)
    {}

    std::optional<JsonScanError> run();

    QVarLengthArray<JsonMember, 12> members;
    qsizetype topOpen = -1;
    qsizetype topClose = -1;
    JsonType topType = JsonType::Null;

private:
    std::optional<JsonScanError> fail(QString message) const { return JsonScanError{m_p, std::move(message)}; }
    void skipWs()
    {
        while (m_p < m_n && isWs(m_s[m_p]))
            ++m_p;
    }
    // At an opening quote; leaves m_p after the closing one.
    std::optional<JsonScanError> string(bool &escaped);
    std::optional<JsonScanError> number();
    std::optional<JsonScanError> literal(const char *word, qsizetype length);
    std::optional<JsonScanError> utf8Sequence();

    const char *m_s;
    qsizetype m_n;
    qsizetype m_p = 0;
    bool m_record;
};

std::optional<JsonScanError> Scanner::utf8Sequence()
{
    const auto b0 = static_cast<unsigned char>(m_s[m_p]);
    int length = 0;
    char32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        cp = b0 & 0x07;
    } else {
        return fail(u"invalid UTF-8"_s);
    }
    if (m_p + length > m_n)
        return fail(u"truncated UTF-8 sequence"_s);
    for (int i = 1; i < length; ++i) {
        const auto b = static_cast<unsigned char>(m_s[m_p + i]);
        if ((b & 0xC0) != 0x80)
            return fail(u"invalid UTF-8"_s);
        cp = (cp << 6) | (b & 0x3F);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if ((length == 3 && cp < 0x800) || (length == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail(u"invalid UTF-8"_s);
    m_p += length;
    return std::nullopt;
}

// Whether any byte of the 8 in `w` is '"', '\\', a control character
// (< 0x20) or not ASCII (>= 0x80): the bytes a string scan must stop at.
// Bit tricks on one 64-bit word ("SWAR"): exact, no false positives or
// misses, because each test only ever sets a byte's high bit.
inline bool hasSpecialByte(quint64 w)
{
    constexpr quint64 ones = 0x0101010101010101ULL;
    constexpr quint64 high = 0x8080808080808080ULL;
    const auto has = [](quint64 x) { return (x - ones) & ~x & high; }; // a zero byte in x
    const quint64 quote = has(w ^ (ones * '"'));
    const quint64 backslash = has(w ^ (ones * '\\'));
    // Bytes below 0x20: (b | 0x80) - 0x20 keeps the high bit only for b >= 0x20.
    const quint64 control = ~((w | high) - ones * 0x20) & high;
    return (quote | backslash | control | (w & high)) != 0;
}

std::optional<JsonScanError> Scanner::string(bool &escaped)
{
    ++m_p; // opening quote
    escaped = false;
    for (;;) {
#if defined(__SSE2__)
        // Fast path over plain ASCII, sixteen bytes at a time: a quote, a
        // backslash, and (as signed bytes) anything below 0x20 or from 0x80
        // up stop it.
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while (m_p + 16 <= m_n) {
            const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i *>(m_s + m_p));
            const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, quote),
                                                              _mm_cmpeq_epi8(chunk, backslash)),
                                                 _mm_cmplt_epi8(chunk, space));
            const int mask = _mm_movemask_epi8(special);
            if (mask != 0) {
                m_p += __builtin_ctz(static_cast<unsigned>(mask));
                break;
            }
            m_p += 16;
        }
#endif
        // Then eight bytes at a time.
        while (m_p + 8 <= m_n) {
            quint64 w;
            std::memcpy(&w, m_s + m_p, 8);
            if (hasSpecialByte(w))
                break;
            m_p += 8;
        }
        while (m_p < m_n) {
            const auto c = static_cast<unsigned char>(m_s[m_p]);
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
                break;
            ++m_p;
        }
        if (m_p >= m_n)
            return fail(u"unterminated string"_s);
        const auto c = static_cast<unsigned char>(m_s[m_p]);
        if (c == '"') {
            ++m_p;
            return std::nullopt;
        }
        if (c < 0x20)
            return fail(u"control character in string"_s);
        if (c >= 0x80) {
            if (auto e = utf8Sequence())
                return e;
            continue;
        }
        // Backslash.
        escaped = true;
        if (m_p + 1 >= m_n)
            return fail(u"unterminated escape"_s);
        const char e = m_s[m_p + 1];
        if (e == 'u') {
            if (m_p + 6 > m_n)
                return fail(u"truncated \\u escape"_s);
            for (int i = 2; i < 6; ++i) {
                if (hexValue(m_s[m_p + i]) < 0)
                    return fail(u"invalid \\u escape"_s);
            }
            m_p += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            m_p += 2;
        } else {
            return fail(u"invalid escape"_s);
        }
    }
}

std::optional<JsonScanError> Scanner::number()
{
    const qsizetype start = m_p;
    bool exponent = false;
    if (m_p < m_n && m_s[m_p] == '-')
        ++m_p;
    if (m_p >= m_n || !isDigit(m_s[m_p]))
        return fail(u"invalid number"_s);
    if (m_s[m_p] == '0') {
        ++m_p;
    } else {
        while (m_p < m_n && isDigit(m_s[m_p]))
            ++m_p;
    }
    if (m_p < m_n && m_s[m_p] == '.') {
        ++m_p;
        if (m_p >= m_n || !isDigit(m_s[m_p]))
            return fail(u"invalid number"_s);
        while (m_p < m_n && isDigit(m_s[m_p]))
            ++m_p;
    }
    if (m_p < m_n && (m_s[m_p] == 'e' || m_s[m_p] == 'E')) {
        exponent = true;
        ++m_p;
        if (m_p < m_n && (m_s[m_p] == '+' || m_s[m_p] == '-'))
            ++m_p;
        if (m_p >= m_n || !isDigit(m_s[m_p]))
            return fail(u"invalid number"_s);
        while (m_p < m_n && isDigit(m_s[m_p]))
            ++m_p;
    }
    // Beyond a double's range (either way) no client reads it as written.
    if (exponent || m_p - start > 300) {
        double value = 0;
        const auto result = std::from_chars(m_s + start, m_s + m_p, value);
        if (result.ec == std::errc::result_out_of_range)
            return JsonScanError{start, u"number out of range"_s};
    }
    return std::nullopt;
}

std::optional<JsonScanError> Scanner::literal(const char *word, qsizetype length)
{
    if (m_p + length > m_n || std::memcmp(m_s + m_p, word, static_cast<size_t>(length)) != 0)
        return fail(u"invalid literal"_s);
    m_p += length;
    return std::nullopt;
}

std::optional<JsonScanError> Scanner::run()
{
    // open[d]: whether the container at depth d+1 is an object.
    std::array<bool, JsonObjectView::kMaxDepth> isObject{};
    int depth = 0;
    // What comes next: a value, or (inside a container) a separator/closer.
    enum class Want { Value, KeyOrClose, Key, ValueOrClose, CommaOrClose } want = Want::Value;
    JsonMember member;

    skipWs();
    if (m_p >= m_n)
        return fail(u"empty message"_s);

    for (;;) {
        skipWs();
        if (m_p >= m_n)
            return fail(u"unexpected end of input"_s);
        const char c = m_s[m_p];

        if (want == Want::KeyOrClose || want == Want::Key) {
            if (c == '}' && want == Want::KeyOrClose) {
                // Empty object: closes like a finished value.
                goto close;
            }
            if (c != '"')
                return fail(u"expected a string key"_s);
            bool escaped = false;
            const qsizetype keyBegin = m_p;
            if (auto e = string(escaped))
                return e;
            if (m_record && depth == 1 && isObject[0]) {
                member = JsonMember{};
                member.keyBegin = keyBegin;
                member.keyEnd = m_p;
                member.keyEscaped = escaped;
            }
            skipWs();
            if (m_p >= m_n || m_s[m_p] != ':')
                return fail(u"expected ':'"_s);
            ++m_p;
            want = Want::Value;
            continue;
        }

        if (want == Want::CommaOrClose) {
            if (c == ',') {
                ++m_p;
                want = isObject[static_cast<size_t>(depth - 1)] ? Want::Key : Want::Value;
                continue;
            }
            goto close;
        }

        if (want == Want::ValueOrClose && c == ']')
            goto close;

        // A value.
        {
            const qsizetype valueBegin = m_p;
            JsonType type = JsonType::Null;
            bool escaped = false;
            switch (c) {
            case '{':
            case '[':
                if (depth >= JsonObjectView::kMaxDepth)
                    return fail(u"nested too deeply"_s);
                if (depth == 0) {
                    topOpen = m_p;
                    topType = c == '{' ? JsonType::Object : JsonType::Array;
                }
                if (m_record && depth == 1 && isObject[0]) {
                    member.valueBegin = valueBegin;
                    member.type = c == '{' ? JsonType::Object : JsonType::Array;
                }
                isObject[static_cast<size_t>(depth)] = c == '{';
                ++depth;
                ++m_p;
                want = c == '{' ? Want::KeyOrClose : Want::ValueOrClose;
                continue;
            case '"':
                type = JsonType::String;
                if (auto e = string(escaped))
                    return e;
                break;
            case 't':
                type = JsonType::True;
                if (auto e = literal("true", 4))
                    return e;
                break;
            case 'f':
                type = JsonType::False;
                if (auto e = literal("false", 5))
                    return e;
                break;
            case 'n':
                type = JsonType::Null;
                if (auto e = literal("null", 4))
                    return e;
                break;
            default:
                if (c != '-' && !isDigit(c))
                    return fail(u"unexpected character"_s);
                type = JsonType::Number;
                if (auto e = number())
                    return e;
                break;
            }
            if (depth == 0) {
                topType = type;
                skipWs();
                if (m_p != m_n)
                    return fail(u"unexpected data after the value"_s);
                return std::nullopt;
            }
            if (m_record && depth == 1 && isObject[0]) {
                member.valueBegin = valueBegin;
                member.valueEnd = m_p;
                member.type = type;
                member.valueEscaped = escaped;
                if (members.size() >= JsonObjectView::kMaxMembers)
                    return fail(u"too many fields"_s);
                members.append(member);
            }
            want = Want::CommaOrClose;
            continue;
        }

    close:
        {
            const bool obj = isObject[static_cast<size_t>(depth - 1)];
            if (c != (obj ? '}' : ']'))
                return fail(obj ? u"expected ',' or '}'"_s : u"expected ',' or ']'"_s);
            ++m_p;
            --depth;
            if (depth == 0) {
                topClose = m_p - 1;
                skipWs();
                if (m_p != m_n)
                    return fail(u"unexpected data after the value"_s);
                return std::nullopt;
            }
            if (m_record && depth == 1 && isObject[0]) {
                member.valueEnd = m_p;
                if (members.size() >= JsonObjectView::kMaxMembers)
                    return fail(u"too many fields"_s);
                members.append(member);
            }
            want = Want::CommaOrClose;
        }
    }
}

// Decodes a validated JSON string body (between the quotes) to UTF-8.
QByteArray unescape(QByteArrayView inner)
{
    QByteArray out;
    out.reserve(inner.size());
    const char *s = inner.data();
    const qsizetype n = inner.size();
    const auto appendCodePoint = [&out](char32_t cp) {
        if (cp < 0x80) {
            out.append(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.append(static_cast<char>(0xC0 | (cp >> 6)));
            out.append(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.append(static_cast<char>(0xE0 | (cp >> 12)));
            out.append(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.append(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.append(static_cast<char>(0xF0 | (cp >> 18)));
            out.append(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.append(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.append(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    };
    const auto hex4 = [s](qsizetype at) {
        char32_t v = 0;
        for (int i = 0; i < 4; ++i)
            v = (v << 4) | static_cast<char32_t>(hexValue(s[at + i]));
        return v;
    };
    for (qsizetype i = 0; i < n;) {
        if (s[i] != '\\') {
            out.append(s[i++]);
            continue;
        }
        const char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b': out.append('\b'); break;
        case 'f': out.append('\f'); break;
        case 'n': out.append('\n'); break;
        case 'r': out.append('\r'); break;
        case 't': out.append('\t'); break;
        case 'u': {
            char32_t cp = hex4(i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
                const char32_t low = hex4(i + 2);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
            }
            // A lone surrogate has no UTF-8 form.
            appendCodePoint(cp >= 0xD800 && cp <= 0xDFFF ? char32_t(0xFFFD) : cp);
            break;
        }
        default: out.append(e); break; // " \ /
        }
    }
    return out;
}

} // namespace

std::optional<JsonScanError> JsonObjectView::scan(const QByteArray &json, JsonObjectView &out)
{
    Scanner scanner(json, true);
    if (auto e = scanner.run())
        return e;
    if (scanner.topType != JsonType::Object)
        return JsonScanError{0, u"a message must be a JSON object"_s, true};
    out.m_bytes = json;
    out.m_open = scanner.topOpen;
    out.m_close = scanner.topClose;
    out.m_members = std::move(scanner.members);
    // Duplicate top-level keys.
    for (qsizetype i = 1; i < out.m_members.size(); ++i) {
        const JsonMember &a = out.m_members[i];
        for (qsizetype j = 0; j < i; ++j) {
            const JsonMember &b = out.m_members[j];
            const bool same = (a.keyEscaped || b.keyEscaped)
                ? out.key(a) == out.key(b)
                : (a.keyEnd - a.keyBegin == b.keyEnd - b.keyBegin
                   && std::memcmp(json.constData() + a.keyBegin, json.constData() + b.keyBegin,
                                  size_t(a.keyEnd - a.keyBegin)) == 0);
            if (same)
                return JsonScanError{a.keyBegin, u"duplicate field '%1'"_s.arg(out.key(a).left(64))};
        }
    }
    return std::nullopt;
}

bool JsonObjectView::isValidJson(QByteArrayView json)
{
    Scanner scanner(json, false);
    return !scanner.run().has_value();
}

namespace {

// Whether a member's raw (unescaped) key is exactly `key`.
inline bool rawKeyIs(const char *bytes, const JsonMember &m, QLatin1StringView key)
{
    const qsizetype length = m.keyEnd - m.keyBegin - 2;
    return length == key.size() && std::memcmp(bytes + m.keyBegin + 1, key.data(), size_t(length)) == 0;
}

} // namespace

const JsonMember *JsonObjectView::find(QLatin1StringView key) const
{
    for (const JsonMember &m : m_members) {
        if (!m.keyEscaped) {
            if (rawKeyIs(m_bytes.constData(), m, key))
                return &m;
        } else if (key == this->key(m)) {
            return &m;
        }
    }
    return nullptr;
}

QByteArrayView JsonObjectView::rawKey(const JsonMember &m) const
{
    return QByteArrayView(m_bytes).sliced(m.keyBegin + 1, m.keyEnd - m.keyBegin - 2);
}

QByteArrayView JsonObjectView::rawValue(const JsonMember &m) const
{
    return QByteArrayView(m_bytes).sliced(m.valueBegin, m.valueEnd - m.valueBegin);
}

QString JsonObjectView::key(const JsonMember &m) const
{
    const QByteArrayView raw = rawKey(m);
    return QString::fromUtf8(m.keyEscaped ? unescape(raw) : raw.toByteArray());
}

QString JsonObjectView::string(const JsonMember &m) const
{
    if (m.type != JsonType::String)
        return {};
    const QByteArrayView inner = rawValue(m).sliced(1, m.valueEnd - m.valueBegin - 2);
    if (!m.valueEscaped)
        return QString::fromUtf8(inner);
    return QString::fromUtf8(unescape(inner));
}

qsizetype JsonObjectView::stringLength(const JsonMember &m) const
{
    if (m.type != JsonType::String)
        return 0;
    const QByteArrayView inner = rawValue(m).sliced(1, m.valueEnd - m.valueBegin - 2);
    if (!m.valueEscaped) {
        // UTF-16 units of valid UTF-8: one per lead byte, two for 4-byte ones.
        qsizetype units = 0;
        for (const char ch : inner) {
            const auto c = static_cast<unsigned char>(ch);
            units += ((c & 0xC0) != 0x80) + (c >= 0xF0);
        }
        return units;
    }
    qsizetype units = 0;
    for (qsizetype i = 0; i < inner.size();) {
        const auto c = static_cast<unsigned char>(inner[i]);
        if (c == '\\') {
            i += inner[i + 1] == 'u' ? 6 : 2;
            ++units;
        } else if (c < 0x80) {
            ++i;
            ++units;
        } else if (c < 0xE0) {
            i += 2;
            ++units;
        } else if (c < 0xF0) {
            i += 3;
            ++units;
        } else {
            i += 4;
            units += 2; // a surrogate pair in UTF-16
        }
    }
    return units;
}

bool JsonObjectView::stringLengthWithin(const JsonMember &m, qsizetype min, qsizetype max) const
{
    if (m.type != JsonType::String)
        return false;
    // Never more UTF-16 units than bytes, and at least one unit when there
    // is a byte: within the bound in bytes settles it for a lower bound of
    // at most 1.
    const qsizetype bytes = m.valueEnd - m.valueBegin - 2;
    if (bytes <= max && min <= 1)
        return bytes >= min;
    const qsizetype units = stringLength(m);
    return units >= min && units <= max;
}

double JsonObjectView::number(const JsonMember &m) const
{
    if (m.type != JsonType::Number)
        return 0;
    const QByteArrayView raw = rawValue(m);
    // Most numbers in messages are small integers (ids, appointment ids):
    // read them without the general conversion.
    if (raw.size() <= 15) {
        qint64 n = 0;
        qsizetype i = raw.front() == '-' ? 1 : 0;
        const qsizetype first = i;
        for (; i < raw.size() && isDigit(raw[i]); ++i)
            n = n * 10 + (raw[i] - '0');
        if (i == raw.size() && i > first)
            return static_cast<double>(first == 1 ? -n : n);
    }
    double value = 0;
    const auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    Q_UNUSED(ptr);
    if (ec == std::errc::result_out_of_range)
        return raw.startsWith('-') ? -HUGE_VAL : HUGE_VAL;
    return value;
}

namespace {

void appendEscaped(QByteArray &out, QByteArrayView utf8)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out.append('"');
    qsizetype run = 0; // start of the bytes that need no escaping
    for (qsizetype i = 0; i < utf8.size(); ++i) {
        const auto c = static_cast<unsigned char>(utf8[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(utf8.sliced(run, i - run));
        run = i + 1;
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        default:
            out.append("\\u00");
            out.append(kHex[c >> 4]);
            out.append(kHex[c & 0xF]);
        }
    }
    out.append(utf8.sliced(run));
    out.append('"');
}

} // namespace

QByteArray JsonObjectView::rewritten(const QLatin1StringView *dropBegin, const QLatin1StringView *dropEnd,
                                     const QByteArrayView *extraBegin, const QByteArrayView *extraEnd) const
{
    qsizetype extraSize = 0;
    for (const QByteArrayView *e = extraBegin; e != extraEnd; ++e)
        extraSize += e->size();
    // One allocation of the largest size it can be, filled with memcpy.
    QByteArray out(m_close - m_open + 2 + extraSize, Qt::Uninitialized);
    char *const start = out.data();
    char *w = start;
    const char *bytes = m_bytes.constData();
    *w++ = '{';
    bool first = true;
    for (const JsonMember &m : m_members) {
        bool dropped = false;
        for (const QLatin1StringView *d = dropBegin; d != dropEnd; ++d) {
            if (m.keyEscaped ? key(m) == *d : rawKeyIs(bytes, m, *d)) {
                dropped = true;
                break;
            }
        }
        if (dropped)
            continue;
        if (!first)
            *w++ = ',';
        first = false;
        const qsizetype length = m.valueEnd - m.keyBegin;
        std::memcpy(w, bytes + m.keyBegin, size_t(length));
        w += length;
    }
    if (extraSize > 0) {
        if (!first)
            *w++ = ',';
        for (const QByteArrayView *e = extraBegin; e != extraEnd; ++e) {
            if (e->isEmpty())
                continue; // an empty view may carry a null pointer: memcpy must not see it
            std::memcpy(w, e->data(), size_t(e->size()));
            w += e->size();
        }
    }
    *w++ = '}';
    out.truncate(w - start);
    return out;
}

void appendJsonString(QByteArray &out, QStringView text)
{
    appendEscaped(out, text.toUtf8());
}

void appendJsonString(QByteArray &out, QLatin1StringView text)
{
    for (const char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80)
            return appendEscaped(out, QString(text).toUtf8());
    }
    appendEscaped(out, QByteArrayView(text.data(), text.size()));
}

} // namespace medrelay::protocol
