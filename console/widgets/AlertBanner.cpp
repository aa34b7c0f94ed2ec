#include "widgets/AlertBanner.h"

#include "core/AlertsModel.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QStyle>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

// A tint of the window's base colour, so the band reads in light and dark palettes.
QColor tint(const QColor &base, const QColor &hue, double amount)
{
    return QColor::fromRgbF(static_cast<float>(base.redF() * (1 - amount) + hue.redF() * amount),
                            static_cast<float>(base.greenF() * (1 - amount) + hue.greenF() * amount),
                            static_cast<float>(base.blueF() * (1 - amount) + hue.blueF() * amount));
}

} // namespace

AlertBanner::AlertBanner(AlertsModel *alerts, QWidget *parent)
    : QFrame(parent), m_alerts(alerts)
{
    setObjectName(u"alertBanner"_s);
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(fontMetrics().averageCharWidth(), fontMetrics().height() / 4,
                               fontMetrics().averageCharWidth(), fontMetrics().height() / 4);
    m_icon = new QLabel(this);
    m_text = new QLabel(this);
    m_text->setTextFormat(Qt::RichText);
    m_text->setWordWrap(true);
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_icon, 0, Qt::AlignTop);
    layout->addWidget(m_text, 1);
    connect(m_alerts, &QAbstractItemModel::rowsInserted, this, &AlertBanner::refresh);
    connect(m_alerts, &QAbstractItemModel::rowsRemoved, this, &AlertBanner::refresh);
    connect(m_alerts, &QAbstractItemModel::dataChanged, this, &AlertBanner::refresh);
    connect(m_alerts, &QAbstractItemModel::modelReset, this, &AlertBanner::refresh);
    refresh();
}

void AlertBanner::changeEvent(QEvent *event)
{
    QFrame::changeEvent(event);
    if (event->type() == QEvent::StyleChange || event->type() == QEvent::FontChange)
        refresh();
}

void AlertBanner::refresh()
{
    const QList<Alert> &alerts = m_alerts->alerts();
    m_lines.clear();
    QStringList html;
    for (const Alert &alert : alerts) {
        m_lines.append(u"%1 \u2014 %2"_s.arg(alert.title, alert.detail));
        html.append(u"<b>%1</b> \u2014 %2"_s.arg(alert.title.toHtmlEscaped(), alert.detail.toHtmlEscaped()));
    }
    setVisible(!alerts.isEmpty());
    if (alerts.isEmpty())
        return;
    m_text->setText(html.join(u"<br>"_s));
    // Critical alerts come first in the model: the first one sets the tone.
    const bool critical = alerts.constFirst().severity == Alert::Severity::Critical;
    const int size = fontMetrics().height() * 3 / 2;
    m_icon->setPixmap(style()
                          ->standardIcon(critical ? QStyle::SP_MessageBoxCritical : QStyle::SP_MessageBoxWarning,
                                         nullptr, this)
                          .pixmap(QSize(size, size), devicePixelRatioF()));
    QPalette p = palette();
    const QColor base = parentWidget() ? parentWidget()->palette().color(QPalette::Base) : p.color(QPalette::Base);
    p.setColor(QPalette::Window, tint(base, critical ? QColor(0xd9, 0x30, 0x25) : QColor(0xf2, 0x9d, 0x00), 0.22));
    setPalette(p);
}

} // namespace medrelay::console
