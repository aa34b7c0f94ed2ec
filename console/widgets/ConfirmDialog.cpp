#include "widgets/ConfirmDialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {
constexpr int kMaxReason = 256; // what the server accepts
}

ConfirmDialog::ConfirmDialog(const QString &title, const QString &message, const QString &confirmText,
                             const QString &defaultReason, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(title);
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    auto *icon = new QLabel(this);
    const int size = fontMetrics().height() * 2;
    icon->setPixmap(style()->standardIcon(QStyle::SP_MessageBoxWarning, nullptr, this).pixmap(size, size));
    top->addWidget(icon, 0, Qt::AlignTop);
    auto *text = new QLabel(message, this);
    text->setWordWrap(true);
    text->setTextFormat(Qt::PlainText);
    text->setMinimumWidth(fontMetrics().averageCharWidth() * 50);
    top->addWidget(text, 1);
    layout->addLayout(top);

    m_items = new QListWidget(this);
    m_items->setObjectName(u"itemsList"_s);
    m_items->setWordWrap(false);
    m_items->setSelectionMode(QAbstractItemView::NoSelection);
    m_items->setFocusPolicy(Qt::NoFocus);
    m_items->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_items->setVisible(false);
    layout->addWidget(m_items, 1);

    auto *form = new QFormLayout;
    m_reason = new QLineEdit(defaultReason, this);
    m_reason->setMaxLength(kMaxReason);
    m_reason->setPlaceholderText(tr("Shown to the participants"));
    form->addRow(tr("&Reason:"), m_reason);
    layout->addLayout(form);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    QPushButton *confirm = buttons->addButton(confirmText, QDialogButtonBox::AcceptRole);
    confirm->setAutoDefault(false);
    buttons->button(QDialogButtonBox::Cancel)->setDefault(true);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

QString ConfirmDialog::reason() const
{
    return m_reason->text().trimmed();
}

void ConfirmDialog::setItems(const QStringList &items)
{
    m_items->clear();
    m_items->addItems(items);
    m_items->setVisible(!items.isEmpty());
    // About twelve lines show at once; the rest scroll.
    const int row = m_items->sizeHintForRow(0) > 0 ? m_items->sizeHintForRow(0) : fontMetrics().height();
    const int frame = 2 * m_items->frameWidth();
    m_items->setMinimumHeight(row * std::min<int>(static_cast<int>(items.size()), 4) + frame);
    m_items->setMaximumHeight(row * std::min<int>(static_cast<int>(items.size()), 12) + frame
                              + m_items->horizontalScrollBar()->sizeHint().height());
    adjustSize();
}

IdleRoomsDialog::IdleRoomsDialog(int defaultMinutes, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Close idle rooms"));
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(tr("Rooms with no message for longer than this will be closed; their participants are "
                                "told and removed. The server is asked first how many rooms that is."),
                             this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    auto *form = new QFormLayout;
    m_minutes = new QSpinBox(this);
    m_minutes->setRange(1, 7 * 24 * 60);
    m_minutes->setValue(defaultMinutes);
    m_minutes->setSuffix(tr(" min"));
    form->addRow(tr("Idle for &more than:"), m_minutes);
    m_reason = new QLineEdit(tr("Closed after inactivity"), this);
    m_reason->setMaxLength(kMaxReason);
    form->addRow(tr("&Reason:"), m_reason);
    layout->addLayout(form);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    buttons->addButton(tr("Count idle rooms\u2026"), QDialogButtonBox::AcceptRole);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

int IdleRoomsDialog::minutes() const
{
    return m_minutes->value();
}

QString IdleRoomsDialog::reason() const
{
    return m_reason->text().trimmed();
}

} // namespace medrelay::console
