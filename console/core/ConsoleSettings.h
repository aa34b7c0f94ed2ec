#pragma once
// What the console remembers between runs: recent servers, window layout and,
// only when the user ticks "remember token", a server's admin token. Tokens
// are never written unless asked, and forgetting one removes it from disk.

#include <QByteArray>
#include <QStringList>
#include <QUrl>

#include <optional>

class QSettings;

namespace medrelay::console {

class ConsoleSettings final
{
    Q_DISABLE_COPY_MOVE(ConsoleSettings)

public:
    static constexpr int kMaxRecentServers = 10;

    // `settings` is not owned and must outlive this object.
    explicit ConsoleSettings(QSettings *settings);

    // Most recent first.
    [[nodiscard]] QStringList recentServers() const;
    void addRecentServer(const QUrl &server);
    void removeRecentServer(const QUrl &server);

    [[nodiscard]] std::optional<QString> rememberedToken(const QUrl &server) const;
    void rememberToken(const QUrl &server, const QString &token);
    void forgetToken(const QUrl &server);

    [[nodiscard]] QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray &geometry);
    [[nodiscard]] QByteArray windowState() const;
    void setWindowState(const QByteArray &state);
    [[nodiscard]] QByteArray viewState(const QString &view) const;
    void setViewState(const QString &view, const QByteArray &state);

    // Where the settings live, for the "stored unencrypted in ..." warning.
    [[nodiscard]] QString fileName() const;
    void sync();

    // The form a server URL is stored and compared in.
    [[nodiscard]] static QString normalise(const QUrl &server);

private:
    [[nodiscard]] static QString tokenKey(const QUrl &server);

    QSettings *m_settings = nullptr;
};

} // namespace medrelay::console
