#include "realtime/ClientSocket.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;

RequestTarget::RequestTarget(const QString &path, QUrlQuery query)
    : m_query(std::move(query))
{
    // Nearly every client asks for /ws: they all share one string.
    static const QString ws = u"/ws"_s;
    m_path = path == ws ? ws : path;
}

QUrl RequestTarget::url() const
{
    QUrl url;
    url.setPath(m_path);
    if (!m_query.isEmpty())
        url.setQuery(m_query);
    return url;
}

} // namespace medrelay::server
