#include "widgets/StatusHeader.h"

#include "core/Format.h"

#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QStyle>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

StatusHeader::StatusHeader(QWidget *parent)
    : QFrame(parent)
{
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    setBackgroundRole(QPalette::Base);

    auto *layout = new QHBoxLayout(this);
    layout->setSpacing(style()->pixelMetric(QStyle::PM_LayoutHorizontalSpacing) * 3);

    auto *stateBox = new QHBoxLayout;
    m_stateIcon = new QLabel(this);
    stateBox->addWidget(m_stateIcon, 0, Qt::AlignTop);
    auto *stateText = new QVBoxLayout;
    stateText->setSpacing(0);
    m_stateText = new QLabel(this);
    m_stateDetail = new QLabel(this);
    m_stateDetail->setForegroundRole(QPalette::PlaceholderText);
    m_stateDetail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_stateDetail->setWordWrap(true);
    m_stateDetail->setMinimumWidth(260);
    stateText->addWidget(m_stateText);
    stateText->addWidget(m_stateDetail);
    stateText->addStretch();
    stateBox->addLayout(stateText, 1);
    layout->addLayout(stateBox, 2);

    m_version = addTile(tr("Server version"));
    m_uptime = addTile(tr("Uptime"));
    m_connections = addTile(tr("Connections"));
    m_rooms = addTile(tr("Rooms"));
    m_messages = addTile(tr("Messages/s in / out"));
    m_memory = addTile(tr("Memory"));
    for (const Tile &tile : std::as_const(m_tiles)) {
        auto *box = new QVBoxLayout;
        box->setSpacing(0);
        box->addWidget(tile.caption);
        box->addWidget(tile.value);
        box->addStretch();
        layout->addLayout(box);
    }
    applyFonts();
    clearFigures();
    setState(AdminClient::State::Disconnected, {});
}

StatusHeader::Tile StatusHeader::addTile(const QString &caption)
{
    Tile tile{new QLabel(caption, this), new QLabel(this)};
    tile.caption->setForegroundRole(QPalette::PlaceholderText);
    tile.value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_tiles.append(tile);
    return tile;
}

void StatusHeader::applyFonts()
{
    QFont big = font();
    big.setPointSizeF(font().pointSizeF() * 1.45);
    big.setBold(true);
    for (const Tile &tile : std::as_const(m_tiles))
        tile.value->setFont(big);
    QFont stateFont = font();
    stateFont.setPointSizeF(font().pointSizeF() * 1.3);
    stateFont.setBold(true);
    m_stateText->setFont(stateFont);
    updateStateIcon();
}

void StatusHeader::changeEvent(QEvent *event)
{
    QFrame::changeEvent(event);
    if (event->type() == QEvent::FontChange || event->type() == QEvent::StyleChange)
        applyFonts();
}

void StatusHeader::setServer(const QUrl &url)
{
    m_server = url;
    setState(m_state, m_reason);
}

void StatusHeader::updateStateIcon()
{
    QStyle::StandardPixmap pixmap = QStyle::SP_MessageBoxInformation;
    switch (m_state) {
    case AdminClient::State::Connected: pixmap = QStyle::SP_DialogApplyButton; break;
    case AdminClient::State::Connecting: pixmap = QStyle::SP_BrowserReload; break;
    case AdminClient::State::Draining: pixmap = QStyle::SP_MessageBoxWarning; break;
    case AdminClient::State::Unauthorised:
    case AdminClient::State::Unreachable: pixmap = QStyle::SP_MessageBoxCritical; break;
    case AdminClient::State::Disconnected: pixmap = QStyle::SP_MessageBoxInformation; break;
    }
    const int size = m_stateText->fontMetrics().height() * 2;
    m_stateIcon->setPixmap(style()->standardIcon(pixmap, nullptr, this).pixmap(QSize(size, size), devicePixelRatioF()));
}

void StatusHeader::setState(AdminClient::State state, const QString &reason)
{
    m_state = state;
    m_reason = reason;
    const QString where = m_server.isEmpty() ? tr("no server") : m_server.toDisplayString(QUrl::RemoveUserInfo);
    m_stateText->setText(AdminClient::stateName(state));
    QString detail = where;
    if (!reason.isEmpty())
        detail += u" \u2014 "_s + reason;
    m_stateDetail->setText(detail);
    m_stateDetail->setToolTip(detail);
    updateStateIcon();
}

void StatusHeader::setRetryIn(std::chrono::milliseconds delay)
{
    if (m_state != AdminClient::State::Unreachable)
        return;
    const double seconds = static_cast<double>(delay.count()) / 1000.0;
    m_stateDetail->setText(tr("%1 \u2014 %2; retrying in %3 s")
                               .arg(m_server.toDisplayString(QUrl::RemoveUserInfo), m_reason)
                               .arg(seconds, 0, 'f', 1));
}

void StatusHeader::setHealth(const adminapi::Health &health)
{
    m_uptime.value->setText(format::duration(static_cast<qint64>(health.uptimeSeconds)));
    m_connections.value->setText(QString::number(health.connections));
    m_rooms.value->setText(QString::number(health.rooms));
}

void StatusHeader::setStats(const adminapi::Stats &stats)
{
    m_version.value->setText(stats.mode.isEmpty() ? stats.version : u"%1 (%2)"_s.arg(stats.version, stats.mode));
    m_uptime.value->setText(format::duration(static_cast<qint64>(stats.uptimeSeconds)));
    m_connections.value->setText(QString::number(stats.connections));
    m_rooms.value->setText(QString::number(stats.rooms.size()));
    m_messages.value->setText(u"%1 / %2"_s.arg(format::rate(stats.perSecond.messagesIn),
                                               format::rate(stats.perSecond.messagesOut)));
    m_memory.value->setText(stats.residentMemoryBytes > 0 ? format::bytes(stats.residentMemoryBytes) : u"-"_s);
}

void StatusHeader::clearFigures()
{
    for (const Tile &tile : std::as_const(m_tiles))
        tile.value->setText(u"\u2013"_s);
}

} // namespace medrelay::console
