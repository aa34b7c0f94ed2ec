#include "core/ConsoleSettings.h"

#include "core/TokenStore.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

#include <algorithm>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {
const QString kRecent = u"servers/recent"_s;
const QString kOldTokens = u"tokens"_s; // where versions before the token file kept them

QString defaultTokenFile(const QSettings &settings)
{
#if defined(Q_OS_WIN) || defined(Q_OS_MACOS)
    if (settings.format() == QSettings::NativeFormat) // the registry or a plist: not an INI file to sit beside
        return QDir(QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation))
            .filePath(u"medrelay-console-tokens.ini"_s);
#endif
    const QFileInfo info(settings.fileName());
    const QString suffix = info.suffix().isEmpty() ? u"ini"_s : info.suffix();
    return info.dir().filePath(info.completeBaseName() + u"-tokens."_s + suffix);
}
} // namespace

ConsoleSettings::ConsoleSettings(QSettings *settings, const QString &tokenFile)
    : m_settings(settings),
      m_tokens(std::make_unique<TokenStore>(tokenFile.isEmpty() ? defaultTokenFile(*settings) : tokenFile))
{
    moveOldTokens();
}

ConsoleSettings::~ConsoleSettings() = default;

void ConsoleSettings::moveOldTokens()
{
    m_settings->beginGroup(kOldTokens);
    const QStringList keys = m_settings->childKeys();
    QList<std::pair<QString, QString>> found;
    for (const QString &key : keys)
        found.append({key, m_settings->value(key).toString()});
    m_settings->endGroup();
    if (found.isEmpty())
        return;
    for (const auto &[key, token] : std::as_const(found)) {
        if (!m_tokens->setToken(key, token))
            return; // left where it was rather than lost
    }
    m_settings->remove(kOldTokens);
    m_settings->sync();
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
    return QString::fromLatin1(hash.toHex().left(32));
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
    return m_tokens->token(tokenKey(server));
}

bool ConsoleSettings::rememberToken(const QUrl &server, const QString &token)
{
    return m_tokens->setToken(tokenKey(server), token);
}

void ConsoleSettings::forgetToken(const QUrl &server)
{
    m_tokens->remove(tokenKey(server));
}

bool ConsoleSettings::desktopNotifications() const
{
    return m_settings->value(u"alerts/desktopNotifications"_s, false).toBool();
}

void ConsoleSettings::setDesktopNotifications(bool on)
{
    m_settings->setValue(u"alerts/desktopNotifications"_s, on);
}

int ConsoleSettings::waitingAlertMinutes() const
{
    return std::clamp(m_settings->value(u"alerts/waitingMinutes"_s, 0).toInt(), 0, 24 * 60);
}

void ConsoleSettings::setWaitingAlertMinutes(int minutes)
{
    m_settings->setValue(u"alerts/waitingMinutes"_s, minutes);
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

QString ConsoleSettings::tokenFileName() const
{
    return m_tokens->fileName();
}

void ConsoleSettings::sync()
{
    m_settings->sync();
}

} // namespace medrelay::console
