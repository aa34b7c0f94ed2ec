#include "controller/AlertRules.h"

#include "core/Format.h"
#include "core/RoomsModel.h"

#include <QCoreApplication>

#include <algorithm>

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

WaitingGuestRule::WaitingGuestRule(qint64 limitSeconds)
    : m_limit(std::max<qint64>(1, limitSeconds))
{
}

void WaitingGuestRule::evaluate(const AlertContext &context, AlertsModel &alerts)
{
    const QString key = u"guests.waitingTooLong"_s;
    if (!Connection::isLive(context.state) || !context.rooms) {
        alerts.clear(key); // what is shown is not live: nobody can say who waits now
        return;
    }
    struct Late
    {
        QString roomId;
        qint64 longest = 0;
        int over = 0;
    };
    QList<Late> late;
    const QDateTime now = context.rooms->now();
    for (const adminapi::RoomInfo &room : context.rooms->items()) {
        if (room.waiting.isEmpty())
            continue;
        Late l{room.id, context.rooms->longestWaitSeconds(room), 0};
        for (const auto &guest : room.waiting) {
            if (guest.joinedAt.isValid() && guest.joinedAt.secsTo(now) > m_limit)
                ++l.over;
        }
        if (l.over > 0)
            late.append(l);
    }
    if (late.isEmpty()) {
        alerts.clear(key);
        return;
    }
    std::sort(late.begin(), late.end(), [](const Late &a, const Late &b) { return a.longest > b.longest; });
    int guests = 0;
    for (const Late &l : std::as_const(late))
        guests += l.over;
    QStringList where;
    for (qsizetype i = 0; i < late.size() && i < 3; ++i)
        where.append(tr("room %1 (%2)").arg(late.at(i).roomId, format::duration(late.at(i).longest)));
    QString rooms = where.join(u", "_s);
    if (late.size() > 3)
        rooms += tr(" and %n more room(s)", static_cast<int>(late.size() - 3));
    alerts.raise({key, Alert::Severity::Warning, tr("Guest waiting too long", guests),
                  tr("%n guest(s) have waited more than %1 to be admitted: %2. Tell the clinician, or open the "
                     "consultation view (double-click the room).",
                     guests)
                      .arg(format::duration(m_limit), rooms),
                  {}});
}

AuditBehindRule::AuditBehindRule(qint64 backlogWarning)
    : m_backlogWarning(backlogWarning)
{
}

void AuditBehindRule::evaluate(const AlertContext &context, AlertsModel &alerts)
{
    const QString key = u"server.auditBehind"_s;
    if (!context.figures || !Connection::isLive(context.state)) {
        if (!context.figures)
            alerts.clear(key);
        return; // stale: keep what was last known
    }
    const ServerFigures &f = *context.figures;
    if (!f.audit) {
        alerts.clear(key);
        return;
    }
    const adminapi::AuditHealth audit = *f.audit;
    if (!m_droppedAtStart)
        m_droppedAtStart = audit.droppedRecords;
    if (audit.droppedRecords < *m_droppedAtStart)
        m_droppedAtStart = audit.droppedRecords; // counters began again: another run of the server
    const qint64 droppedHere = audit.droppedRecords - *m_droppedAtStart;
    const QString server = where(context);
    if (audit.behind || droppedHere > 0) {
        alerts.raise({key, Alert::Severity::Critical, tr("Audit log falling behind"),
                      tr("%1 cannot write its audit log: %2 record(s) wait in memory, %3 dropped. It keeps serving "
                         "but is not recording: free space or fix the disk of its data directory.")
                          .arg(server)
                          .arg(audit.backlog)
                          .arg(audit.droppedRecords),
                      {}});
    } else if (audit.backlog >= m_backlogWarning) {
        alerts.raise({key, Alert::Severity::Warning, tr("Audit log falling behind"),
                      tr("%1 has %2 audit record(s) not yet on disk: its disk is slow to keep up.")
                          .arg(server)
                          .arg(audit.backlog),
                      {}});
    } else {
        alerts.clear(key);
    }
}

void DegradedRule::evaluate(const AlertContext &context, AlertsModel &alerts)
{
    const QString key = u"server.degraded"_s;
    if (!context.figures || !Connection::isLive(context.state)) {
        if (!context.figures)
            alerts.clear(key);
        return; // stale: keep what was last known
    }
    const ServerFigures &f = *context.figures;
    const bool auditExplains = f.audit && f.audit->behind;
    if (f.status != "degraded"_L1 || auditExplains) {
        alerts.clear(key);
        return;
    }
    const QString server = where(context);
    if (f.cluster && !f.cluster->available) {
        alerts.raise({key, Alert::Severity::Critical, tr("Cluster link down"),
                      tr("%1 cannot reach Redis: its rooms are not shared with the other instances, chat and "
                         "whiteboard are refused and joins wait until Redis is back. Check Redis and the network "
                         "to it.")
                          .arg(server),
                      {}});
        return;
    }
    alerts.raise({key, Alert::Severity::Critical, tr("Server degraded"),
                  tr("%1 reports itself degraded: see its log.").arg(server), {}});
}

std::vector<std::unique_ptr<AlertRule>> standardAlertRules()
{
    std::vector<std::unique_ptr<AlertRule>> rules;
    rules.push_back(std::make_unique<ConnectionAlertRule>());
    rules.push_back(std::make_unique<ConnectionCapRule>());
    rules.push_back(std::make_unique<WaitingGuestRule>());
    rules.push_back(std::make_unique<AuditBehindRule>());
    rules.push_back(std::make_unique<DegradedRule>());
    rules.push_back(std::make_unique<RefusalAlertRule>(
        u"too_many_connections"_s, u"server.refusedAtCap"_s, tr("Connections refused at the cap"),
        tr("The server is at --max-connections; raise it or add capacity.")));
    rules.push_back(std::make_unique<RefusalAlertRule>(
        u"too_many_from_address"_s, u"server.refusedPerAddress"_s, tr("Connections refused from one address"),
        tr("One address reached --max-connections-per-ip (a clinic behind one NAT address may need more).")));
    return rules;
}

} // namespace medrelay::console
