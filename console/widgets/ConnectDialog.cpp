#include "widgets/ConnectDialog.h"

#include "core/ConsoleSettings.h"
#include "core/LaunchOptions.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

ConnectDialog::ConnectDialog(ConsoleSettings *settings, QWidget *parent)
    : QDialog(parent), m_settings(settings)
{
    setWindowTitle(tr("Connect to a medrelay server"));
    auto *layout = new QVBoxLayout(this);
    m_message = new QLabel(this);
    m_message->setWordWrap(true);
    m_message->setVisible(false);
    layout->addWidget(m_message);
    auto *form = new QFormLayout;

    m_server = new QComboBox(this);
    m_server->setEditable(true);
    m_server->setInsertPolicy(QComboBox::NoInsert);
    m_server->addItems(m_settings->recentServers());
    // Words, not an address: a grey URL is easily taken for a value already filled in.
    m_server->lineEdit()->setPlaceholderText(tr("Type the server's address (http:// or https://)"));
    m_server->setMinimumContentsLength(36);
    m_server->setToolTip(tr("The server's address, http:// or https://, as the clinic's browsers reach it, "
                            "for example https://relay.clinic.example or 127.0.0.1:9003"));
    auto *serverLabel = new QLabel(tr("&Server:"), this);
    serverLabel->setBuddy(m_server);
    form->addRow(serverLabel, m_server);

    auto *tokenRow = new QHBoxLayout;
    m_token = new QLineEdit(this);
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("admin token (empty if the server has none)"));
    m_token->setClearButtonEnabled(true);
    auto *show = new QToolButton(this);
    show->setText(tr("Show"));
    show->setCheckable(true);
    show->setToolTip(tr("Show the token while typing"));
    connect(show, &QToolButton::toggled, this, [this](bool on) {
        m_token->setEchoMode(on ? QLineEdit::Normal : QLineEdit::Password);
    });
    tokenRow->addWidget(m_token, 1);
    tokenRow->addWidget(show);
    // A label made here, with its buddy: QFormLayout's own label for a layout
    // row has none, so it would show the '&' and its Alt key would reach nothing.
    auto *tokenLabel = new QLabel(tr("Admin &token:"), this);
    tokenLabel->setBuddy(m_token);
    form->addRow(tokenLabel, tokenRow);

    m_remember = new QCheckBox(tr("&Remember the token on this computer"), this);
    form->addRow(QString(), m_remember);
    layout->addLayout(form);

    m_warning = new QWidget(this);
    auto *warningLayout = new QHBoxLayout(m_warning);
    warningLayout->setContentsMargins(0, 0, 0, 0);
    auto *icon = new QLabel(m_warning);
    const int iconSize = fontMetrics().height() * 2;
    icon->setPixmap(style()->standardIcon(QStyle::SP_MessageBoxWarning, nullptr, this).pixmap(iconSize, iconSize));
    auto *warningText = new QLabel(
        tr("The token will be stored unencrypted in %1, a file only your user account can read (mode 0600 on "
           "Linux and macOS). "
           "Anyone who can read that file (an administrator, a backup) can close consultations and disconnect "
           "patients. Leave this off on a shared computer.")
            .arg(m_settings->tokenFileName()),
        m_warning);
    warningText->setWordWrap(true);
    warningText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    warningLayout->addWidget(icon, 0, Qt::AlignTop);
    warningLayout->addWidget(warningText, 1);
    m_warning->setVisible(false);
    layout->addWidget(m_warning);
    connect(m_remember, &QCheckBox::toggled, this, [this](bool on) {
        m_warning->setVisible(on);
        adjustSize();
    });

    m_error = new QLabel(this);
    m_error->setWordWrap(true);
    m_error->setVisible(false);
    layout->addWidget(m_error);

    auto *hint = new QLabel(tr("The token may also be given in the MEDRELAY_ADMIN_TOKEN environment variable."), this);
    hint->setForegroundRole(QPalette::PlaceholderText);
    hint->setWordWrap(true);
    layout->addWidget(hint);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    QPushButton *connectButton = buttons->addButton(tr("&Connect"), QDialogButtonBox::AcceptRole);
    connectButton->setDefault(true);
    connect(buttons, &QDialogButtonBox::accepted, this, &ConnectDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);

    connect(m_server, &QComboBox::currentTextChanged, this, &ConnectDialog::serverChosen);
    serverChosen(m_server->currentText());
}

void ConnectDialog::setServer(const QUrl &url)
{
    m_server->setCurrentText(ConsoleSettings::normalise(url));
}

void ConnectDialog::setToken(const QString &token)
{
    m_token->setText(token);
}

QString ConnectDialog::token() const
{
    return m_token->text().trimmed();
}

bool ConnectDialog::rememberToken() const
{
    return m_remember->isChecked();
}

void ConnectDialog::serverChosen(const QString &text)
{
    m_error->setVisible(false);
    const auto url = parseServerUrl(text);
    const auto remembered = url ? m_settings->rememberedToken(*url) : std::nullopt;
    if (remembered) {
        m_token->setText(*remembered);
        m_remember->setChecked(true);
    } else if (m_remember->isChecked()) {
        // The previous server's remembered token is not this one's.
        m_token->clear();
        m_remember->setChecked(false);
    }
}

void ConnectDialog::accept()
{
    const auto url = parseServerUrl(m_server->currentText());
    if (!url) {
        m_error->setText(tr("Enter the server's address, starting with http:// or https://, "
                            "for example http://127.0.0.1:9003."));
        QFont bold = m_error->font();
        bold.setBold(true);
        m_error->setFont(bold);
        m_error->setVisible(true);
        m_server->setFocus();
        return;
    }
    m_url = *url;
    QDialog::accept();
}

void ConnectDialog::setMessage(const QString &text)
{
    m_message->setText(text);
    m_message->setVisible(!text.isEmpty());
}

void ConnectDialog::focusToken()
{
    m_token->setFocus(Qt::OtherFocusReason);
    m_token->selectAll();
}

} // namespace medrelay::console
