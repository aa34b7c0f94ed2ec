#include "controller/AlertRules.h"

#include <QCoreApplication>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

QString tr(const char *text, int n = -1)
{
    return QCoreApplication::translate("medrelay::console::AlertRules", text, nullptr, n);
}

QString where(const AlertContext &context)
{
    return context.server.toDisplayString(QUrl::RemoveUserInfo | QUrl::StripTrailingSlash);
}

} // namespace

AlertRule::~AlertRule() = default;

void ConnectionAlertRule::evaluate(const AlertContext &context, AlertsModel &alerts)
{
    const bool draining = context.state == ConnectionState::Draining
                          || (Connection::isLive(context.state) && context.figures && context.figures->isDraining());
    if (draining) {
        alerts.raise({u"server.draining"_s, Alert::Severity::Critical, tr("Server draining"),
                      tr("%1 is shutting down: it takes no new consultations, and those in progress end when it "
                         "stops.")
                          .arg(where(context)),
                      {}});
    } else {
        alerts.clear(u"server.draining"_s);
    }

    if (context.state == ConnectionState::Unreachable) {
        alerts.raise({u"server.unreachable"_s, Alert::Severity::Critical, tr("Server unreachable"),
                      tr("%1: %2. The console keeps trying; what it shows is the last known state.")
                          .arg(where(context), context.reason),
                      {}});
    } else {
        alerts.clear(u"server.unreachable"_s);
    }

    if (context.state == ConnectionState::Unauthorised) {
        alerts.raise({u"server.unauthorised"_s, Alert::Severity::Critical,
                      context.tokenGiven ? tr("Admin token refused") : tr("Admin token needed"),
                      tr("%1: %2. Connect (Ctrl+O) with the server's admin token.").arg(where(context), context.reason),
                      {}});
    } else {
        alerts.clear(u"server.unauthorised"_s);
    }
}

ConnectionCapRule::ConnectionCapRule(double raiseAt, double clearBelow)
    : m_raiseAt(raiseAt), m_clearBelow(std::min(clearBelow, raiseAt))
{
}

void ConnectionCapRule::evaluate(const AlertContext &context, AlertsModel &alerts)
{
    const QString key = u"server.nearCap"_s;
    if (!Connection::isLive(context.state) || !context.figures || !context.figures->maxConnections) {
        alerts.clear(key);
        return;
    }
    const int cap = *context.figures->maxConnections;
    const int open = context.figures->connections;
    const double share = static_cast<double>(open) / static_cast<double>(cap);
    if (share >= m_raiseAt || (alerts.isActive(key) && share >= m_clearBelow)) {
        alerts.raise({key, share >= 1.0 ? Alert::Severity::Critical : Alert::Severity::Warning,
                      tr("Connections near the cap"),
                      tr("%1 of %2 connections are open (%3%); at the cap new participants are refused. Raise "
                         "--max-connections or add capacity.")
                          .arg(open)
                          .arg(cap)
                          .arg(qRound(share * 100.0)),
                      {}});
    } else {
        alerts.clear(key);
    }
}

RefusalAlertRule::RefusalAlertRule(QString rejectionReason, QString key, QString title, QString advice,
                                   qint64 quietSeconds)
    : m_reason(std::move(rejectionReason)), m_key(std::move(key)), m_title(std::move(title)),
      m_advice(std::move(advice)), m_quietSeconds(quietSeconds)
{
}

void RefusalAlertRule::reset()
{
    m_last.reset();
    m_refusedSinceRaised = 0;
    m_lastRise = {};
}

void RefusalAlertRule::evaluate(const AlertContext &context, AlertsModel &alerts)
{
    if (!context.figures || !context.figures->hasRates)
        return; // /health alone says nothing about refusals
    const qint64 count = context.figures->rejectionsByReason.value(m_reason, 0);
    const QDateTime now = context.figures->timestamp;
    if (m_last && count < *m_last)
        m_last.reset(); // the server restarted: its counters began again
    if (m_last && count > *m_last) {
        if (!alerts.isActive(m_key))
            m_refusedSinceRaised = 0;
        m_refusedSinceRaised += count - *m_last;
        m_lastRise = now;
        alerts.raise({m_key, Alert::Severity::Critical, m_title,
                      tr("%n connection(s) refused since %1. %2", static_cast<int>(m_refusedSinceRaised))
                          .arg(alerts.isActive(m_key) ? alerts.find(m_key)->since.toLocalTime().toString(u"HH:mm:ss"_s)
                                                      : QDateTime::currentDateTime().toString(u"HH:mm:ss"_s),
                               m_advice),
                      {}});
    } else if (alerts.isActive(m_key) && m_lastRise.isValid() && now.isValid()
               && m_lastRise.secsTo(now) >= m_quietSeconds) {
        alerts.clear(m_key);
    }
    m_last = count;
}

std::vector<std::unique_ptr<AlertRule>> standardAlertRules()
{
    std::vector<std::unique_ptr<AlertRule>> rules;
    rules.push_back(std::make_unique<ConnectionAlertRule>());
    rules.push_back(std::make_unique<ConnectionCapRule>());
    rules.push_back(std::make_unique<RefusalAlertRule>(
        u"too_many_connections"_s, u"server.refusedAtCap"_s, tr("Connections refused at the cap"),
        tr("The server is at --max-connections; raise it or add capacity.")));
    rules.push_back(std::make_unique<RefusalAlertRule>(
        u"too_many_from_address"_s, u"server.refusedPerAddress"_s, tr("Connections refused from one address"),
        tr("One address reached --max-connections-per-ip (a clinic behind one NAT address may need more).")));
    return rules;
}

} // namespace medrelay::console
