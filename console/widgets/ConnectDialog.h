#pragma once
// Where to connect: the server URL (recent ones offered) and the admin token.
// The token is kept only in memory unless "remember token" is ticked, which
// shows plainly where and how (unencrypted) it would be stored.

#include <QDialog>
#include <QUrl>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QWidget;

namespace medrelay::console {

class ConsoleSettings;

class ConnectDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectDialog)

public:
    explicit ConnectDialog(ConsoleSettings *settings, QWidget *parent = nullptr);

    void setServer(const QUrl &url);
    void setToken(const QString &token);

    [[nodiscard]] QUrl serverUrl() const { return m_url; }
    [[nodiscard]] QString token() const;
    [[nodiscard]] bool rememberToken() const;

    // Saves the recent-server list and the token choice; call after accept().
    void saveChoices();

    void accept() override;

private:
    void serverChosen(const QString &text);

    ConsoleSettings *m_settings = nullptr;
    QComboBox *m_server = nullptr;
    QLineEdit *m_token = nullptr;
    QCheckBox *m_remember = nullptr;
    QWidget *m_warning = nullptr;
    QLabel *m_error = nullptr;
    QUrl m_url;
};

} // namespace medrelay::console
