#pragma once
// Where to connect: the server URL (recent ones offered) and the admin token.
// The token is kept only in memory unless "remember token" is ticked, which
// shows plainly where and how (unencrypted, readable only by this user) it
// would be stored. What is remembered is saved only once the server answers
// (ConsoleController::Remember).

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

    // A line above the fields, e.g. why a token is asked for.
    void setMessage(const QString &text);
    // Puts the cursor in the token field (when the server asked for one).
    void focusToken();
    [[nodiscard]] QLineEdit *tokenEdit() const { return m_token; }
    [[nodiscard]] QComboBox *serverEdit() const { return m_server; }

    void accept() override;

private:
    void serverChosen(const QString &text);

    ConsoleSettings *m_settings = nullptr;
    QComboBox *m_server = nullptr;
    QLineEdit *m_token = nullptr;
    QCheckBox *m_remember = nullptr;
    QWidget *m_warning = nullptr;
    QLabel *m_message = nullptr;
    QLabel *m_error = nullptr;
    QUrl m_url;
};

} // namespace medrelay::console
