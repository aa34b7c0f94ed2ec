#include "http/HttpRequestParser.h"

#include <http_parser.h>

#include <QUrl>

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

struct ParseState
{
    HttpRequest request;
    const HttpParseLimits *limits = nullptr;
    QByteArray field;
    QByteArray value;
    bool inValue = false;
    bool complete = false;
    QString error;
    int errorStatus = 400;
};

ParseState *stateOf(http_parser *p)
{
    return static_cast<ParseState *>(p->data);
}

void flushHeader(ParseState *s)
{
    if (!s->field.isEmpty()) {
        const QByteArray name = s->field.toLower();
        const QByteArray value = s->value.trimmed();
        auto it = s->request.headers.find(name);
        if (it == s->request.headers.end())
            s->request.headers.insert(name, value);
        else
            *it += ", " + value;
    }
    s->field.clear();
    s->value.clear();
    s->inValue = false;
}

int onUrl(http_parser *p, const char *at, size_t len)
{
    ParseState *s = stateOf(p);
    if (s->request.rawTarget.size() + static_cast<qsizetype>(len) > s->limits->maxTargetBytes) {
        s->error = u"request target too long"_s;
        s->errorStatus = 414;
        return 1;
    }
    s->request.rawTarget.append(at, static_cast<qsizetype>(len));
    return 0;
}

int onHeaderField(http_parser *p, const char *at, size_t len)
{
    ParseState *s = stateOf(p);
    if (s->inValue) {
        flushHeader(s);
        if (s->request.headers.size() >= s->limits->maxHeaders) {
            s->error = u"too many headers"_s;
            s->errorStatus = 431;
            return 1;
        }
    }
    s->field.append(at, static_cast<qsizetype>(len));
    return 0;
}

int onHeaderValue(http_parser *p, const char *at, size_t len)
{
    ParseState *s = stateOf(p);
    s->inValue = true;
    s->value.append(at, static_cast<qsizetype>(len));
    return 0;
}

int onHeadersComplete(http_parser *p)
{
    ParseState *s = stateOf(p);
    flushHeader(s);
    s->request.method = http_method_str(static_cast<http_method>(p->method));
    s->request.upgrade = p->upgrade != 0;
    s->request.keepAlive = http_should_keep_alive(p) != 0;
    s->request.contentLength = (p->content_length == ULLONG_MAX) ? 0 : static_cast<qint64>(p->content_length);
    s->complete = true;
    // Stop here: the body, if any, is read by the caller within its own limit.
    return 2;
}

} // namespace

int findHeadEnd(QByteArrayView data)
{
    const qsizetype i = data.indexOf(QByteArrayView("\r\n\r\n"));
    return i < 0 ? -1 : static_cast<int>(i + 4);
}

std::variant<HttpRequest, HttpParseError> parseRequestHead(QByteArrayView head, const HttpParseLimits &limits)
{
    if (head.size() > limits.maxHeadBytes)
        return HttpParseError{431, u"request head too large"_s};

    http_parser_settings settings{};
    settings.on_url = onUrl;
    settings.on_header_field = onHeaderField;
    settings.on_header_value = onHeaderValue;
    settings.on_headers_complete = onHeadersComplete;

    ParseState state;
    state.limits = &limits;
    http_parser parser{};
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &state;
    http_parser_execute(&parser, &settings, head.data(), static_cast<size_t>(head.size()));

    if (!state.error.isEmpty())
        return HttpParseError{state.errorStatus, state.error};
    if (!state.complete) {
        const auto err = static_cast<http_errno>(parser.http_errno);
        return HttpParseError{400, u"malformed request: %1"_s.arg(QLatin1StringView(http_errno_name(err)))};
    }
    if (parser.http_major != 1)
        return HttpParseError{505, u"only HTTP/1.x is supported"_s};

    HttpRequest &r = state.request;
    // Upgrade only counts as a WebSocket upgrade when it says so.
    r.upgrade = r.upgrade && r.header("upgrade").trimmed().toLower() == "websocket";
    if (r.method == "CONNECT")
        return HttpParseError{405, u"CONNECT is not supported"_s};

    http_parser_url url{};
    http_parser_url_init(&url);
    if (http_parser_parse_url(r.rawTarget.constData(), static_cast<size_t>(r.rawTarget.size()), 0, &url) != 0
        || !(url.field_set & (1 << UF_PATH)))
        return HttpParseError{400, u"malformed request target"_s};
    const QByteArray rawPath = r.rawTarget.mid(url.field_data[UF_PATH].off, url.field_data[UF_PATH].len);
    r.path = QUrl::fromPercentEncoding(rawPath);
    if (url.field_set & (1 << UF_QUERY)) {
        r.query = QUrlQuery(QString::fromUtf8(
            r.rawTarget.mid(url.field_data[UF_QUERY].off, url.field_data[UF_QUERY].len)));
    }
    r.headBytes = static_cast<int>(head.size());
    return std::move(state.request);
}

} // namespace medrelay::server
