#include "web/StaticFiles.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace medrelay::server::web {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMaxPathLength = 1024;
constexpr qsizetype kMaxSegments = 16;
constexpr qsizetype kMaxSegmentLength = 255;

bool segmentChar(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9') || u == u'.'
           || u == u'_' || u == u'-';
}

// A page may load scripts, styles and images from this server only, open
// WebSockets to it, and show camera streams; nobody may frame it.
constexpr auto kHtmlPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                             "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
                             "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

} // namespace

StaticFiles::StaticFiles(const QString &root, qint64 maxFileBytes)
    : m_maxFileBytes(maxFileBytes)
{
    const QFileInfo info(root);
    if (info.isDir())
        m_root = info.canonicalFilePath();
}

std::optional<QString> StaticFiles::relativePath(const QString &path)
{
    if (!path.startsWith(u'/') || path.size() > kMaxPathLength)
        return std::nullopt;
    if (path.size() == 1)
        return u"index.html"_s;
    const QStringList segments = path.mid(1).split(u'/');
    if (segments.size() > kMaxSegments)
        return std::nullopt;
    for (const QString &s : segments) {
        if (s.isEmpty() || s.size() > kMaxSegmentLength || s.startsWith(u'.')
            || !std::all_of(s.cbegin(), s.cend(), segmentChar))
            return std::nullopt;
    }
    return segments.join(u'/');
}

QByteArray StaticFiles::contentType(const QString &fileName)
{
    static const QList<QPair<QLatin1StringView, QByteArray>> types = {
        {".html"_L1, "text/html; charset=utf-8"},
        {".js"_L1, "text/javascript; charset=utf-8"},
        {".mjs"_L1, "text/javascript; charset=utf-8"},
        {".css"_L1, "text/css; charset=utf-8"},
        {".json"_L1, "application/json"},
        {".map"_L1, "application/json"},
        {".ts"_L1, "text/plain; charset=utf-8"}, // the client library's type declarations
        {".txt"_L1, "text/plain; charset=utf-8"},
        {".svg"_L1, "image/svg+xml"},
        {".png"_L1, "image/png"},
        {".jpg"_L1, "image/jpeg"},
        {".webp"_L1, "image/webp"},
        {".ico"_L1, "image/x-icon"},
        {".woff2"_L1, "font/woff2"},
    };
    for (const auto &[suffix, type] : types) {
        if (fileName.endsWith(suffix, Qt::CaseInsensitive))
            return type;
    }
    return {};
}

std::optional<HttpResponse> StaticFiles::serve(const HttpRequest &request) const
{
    if (m_root.isEmpty())
        return std::nullopt;
    const auto relative = relativePath(request.path);
    if (!relative)
        return std::nullopt;
    const QByteArray type = contentType(*relative);
    if (type.isEmpty())
        return std::nullopt;
    // Symlinks are resolved first, so one that points out of the root is
    // judged by where it points.
    const QString resolved = QFileInfo(m_root + u'/' + *relative).canonicalFilePath();
    if (resolved.isEmpty() || !resolved.startsWith(m_root + u'/'))
        return std::nullopt;
    const QFileInfo info(resolved);
    if (!info.isFile() || !info.isReadable())
        return std::nullopt;

    if (request.method != "GET" && request.method != "HEAD") {
        HttpResponse r = HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
        r.extraHeaders.append(qMakePair(QByteArray("Allow"), QByteArray("GET, HEAD")));
        return r;
    }
    if (info.size() > m_maxFileBytes)
        return HttpResponse::error(403, u"forbidden"_s, u"file too large to serve"_s);

    const QByteArray etag = '"'
                            + QCryptographicHash::hash(resolved.toUtf8() + '\n' + QByteArray::number(info.size())
                                                           + '\n'
                                                           + QByteArray::number(
                                                               info.lastModified().toMSecsSinceEpoch()),
                                                       QCryptographicHash::Sha256)
                                  .toHex()
                                  .left(32)
                            + '"';
    HttpResponse r;
    r.contentType = type;
    r.cacheControl = "no-cache"; // keep, but ask again (cheap: 304) before each use
    r.extraHeaders.append(qMakePair(QByteArray("ETag"), QByteArray(etag)));
    r.extraHeaders.append(qMakePair(QByteArray("Cross-Origin-Resource-Policy"), QByteArray("same-origin")));
    if (type.startsWith("text/html")) {
        r.extraHeaders.append(qMakePair(QByteArray("Content-Security-Policy"), QByteArray(kHtmlPolicy)));
        r.extraHeaders.append(qMakePair(QByteArray("X-Frame-Options"), QByteArray("DENY")));
        r.extraHeaders.append(qMakePair(QByteArray("Referrer-Policy"), QByteArray("no-referrer")));
    }
    const QList<QByteArray> candidates = request.header("if-none-match").split(',');
    for (const QByteArray &c : candidates) {
        const QByteArray tag = c.trimmed();
        if (tag == etag || tag == "W/" + etag || tag == "*") {
            r.status = 304;
            r.omitBody = true;
            return r;
        }
    }
    QFile file(resolved);
    if (!file.open(QIODevice::ReadOnly) || file.isSequential())
        return std::nullopt;
    r.body = file.read(m_maxFileBytes + 1);
    if (r.body.size() > m_maxFileBytes) // grew since it was looked at
        return HttpResponse::error(403, u"forbidden"_s, u"file too large to serve"_s);
    r.omitBody = request.method == "HEAD"; // its Content-Length all the same
    return r;
}

} // namespace medrelay::server::web
