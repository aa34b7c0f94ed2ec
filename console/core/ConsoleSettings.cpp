#include "core/ConsoleSettings.h"

#include <QCryptographicHash>
#include <QSettings>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {
const QString kRecent = u"servers/recent"_s;
} // namespace

ConsoleSettings::ConsoleSettings(QSettings *settings)
    : m_settings(settings)
{
}

QString ConsoleSettings::normalise(const QUrl &server)
{
    QUrl url = server.adjusted(QUrl::StripTrailingSlash | QUrl::RemoveFragment | QUrl::RemoveQuery
                               | QUrl::RemoveUserInfo | QUrl::NormalizePathSegments);
    if (url.path() == "/"_L1)
        url.setPath({});
    url.setHost(url.host().toLower());
    return url.toString(QUrl::FullyEncoded);
}

QString ConsoleSettings::tokenKey(const QUrl &server)
{
    // A hash keeps URL punctuation out of the key (QSettings treats '/' as a group separator).
    const QByteArray hash = QCryptographicHash::hash(normalise(server).toUtf8(), QCryptographicHash::Sha256);
    return u"tokens/"_s + QString::fromLatin1(hash.toHex().left(32));
}

QStringList ConsoleSettings::recentServers() const
{
    return m_settings->value(kRecent).toStringList();
}

void ConsoleSettings::addRecentServer(const QUrl &server)
{
    const QString url = normalise(server);
    if (url.isEmpty())
        return;
    QStringList list = recentServers();
    list.removeAll(url);
    list.prepend(url);
    while (list.size() > kMaxRecentServers)
        list.removeLast();
    m_settings->setValue(kRecent, list);
}

void ConsoleSettings::removeRecentServer(const QUrl &server)
{
    QStringList list = recentServers();
    list.removeAll(normalise(server));
    m_settings->setValue(kRecent, list);
    forgetToken(server);
}

std::optional<QString> ConsoleSettings::rememberedToken(const QUrl &server) const
{
    const QString key = tokenKey(server);
    if (!m_settings->contains(key))
        return std::nullopt;
    return m_settings->value(key).toString();
}

void ConsoleSettings::rememberToken(const QUrl &server, const QString &token)
{
    m_settings->setValue(tokenKey(server), token);
}

void ConsoleSettings::forgetToken(const QUrl &server)
{
    m_settings->remove(tokenKey(server));
}

QByteArray ConsoleSettings::windowGeometry() const
{
    return m_settings->value(u"window/geometry"_s).toByteArray();
}

void ConsoleSettings::setWindowGeometry(const QByteArray &geometry)
{
    m_settings->setValue(u"window/geometry"_s, geometry);
}

QByteArray ConsoleSettings::windowState() const
{
    return m_settings->value(u"window/state"_s).toByteArray();
}

void ConsoleSettings::setWindowState(const QByteArray &state)
{
    m_settings->setValue(u"window/state"_s, state);
}

QByteArray ConsoleSettings::viewState(const QString &view) const
{
    return m_settings->value(u"views/"_s + view).toByteArray();
}

void ConsoleSettings::setViewState(const QString &view, const QByteArray &state)
{
    m_settings->setValue(u"views/"_s + view, state);
}

QString ConsoleSettings::fileName() const
{
    return m_settings->fileName();
}

void ConsoleSettings::sync()
{
    m_settings->sync();
}

} // namespace medrelay::console
