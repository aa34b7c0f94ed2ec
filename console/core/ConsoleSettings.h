#pragma once
// What the console remembers between runs: recent servers, window layout,
// whether alerts go to the desktop's notifications and, only when the user
// ticks "remember token", a server's admin token. Tokens are never written
// unless asked, go to a TokenStore file only the user can read (never to the
// settings file), and forgetting one removes it from disk.

#include <QByteArray>
#include <QStringList>
#include <QUrl>

#include <memory>
#include <optional>

class QSettings;

namespace medrelay::console {

class TokenStore;

class ConsoleSettings final
{
    Q_DISABLE_COPY_MOVE(ConsoleSettings)

public:
    static constexpr int kMaxRecentServers = 10;

    // `settings` is not owned and must outlive this object. Tokens go to
    // `tokenFile`; empty: beside the settings file, with "-tokens" added to
    // its name. Tokens an older version kept in the settings file move there.
    explicit ConsoleSettings(QSettings *settings, const QString &tokenFile = {});
    ~ConsoleSettings();

    // Most recent first.
    [[nodiscard]] QStringList recentServers() const;
    void addRecentServer(const QUrl &server);
    void removeRecentServer(const QUrl &server);

    [[nodiscard]] std::optional<QString> rememberedToken(const QUrl &server) const;
    // False when the token file could not be made private (nothing is then written).
    bool rememberToken(const QUrl &server, const QString &token);
    void forgetToken(const QUrl &server);

    [[nodiscard]] bool desktopNotifications() const;
    void setDesktopNotifications(bool on);
    // Alert when a guest has waited this long to be admitted (0: not set, the default applies).
    [[nodiscard]] int waitingAlertMinutes() const;
    void setWaitingAlertMinutes(int minutes);

    [[nodiscard]] QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray &geometry);
    [[nodiscard]] QByteArray windowState() const;
    void setWindowState(const QByteArray &state);
    [[nodiscard]] QByteArray viewState(const QString &view) const;
    void setViewState(const QString &view, const QByteArray &state);

    // Where the settings live.
    [[nodiscard]] QString fileName() const;
    // Where remembered tokens live, for the "stored unencrypted in ..." warning.
    [[nodiscard]] QString tokenFileName() const;
    void sync();

    // The form a server URL is stored and compared in.
    [[nodiscard]] static QString normalise(const QUrl &server);

private:
    [[nodiscard]] static QString tokenKey(const QUrl &server);
    void moveOldTokens();

    QSettings *m_settings = nullptr;
    std::unique_ptr<TokenStore> m_tokens;
};

} // namespace medrelay::console
