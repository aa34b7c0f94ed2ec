#pragma once
// Rules that raise and clear alerts from what the console knows: connection
// state, the server's figures and its rooms. Each rule looks at one thing and
// owns the alert keys it raises; more plug in with
// ConsoleController::addAlertRule().

#include "core/AlertsModel.h"
#include "core/ConnectionState.h"
#include "core/ServerFigures.h"

#include <QUrl>

#include <memory>
#include <optional>
#include <vector>

namespace medrelay::console {

class RoomsModel;

struct AlertContext
{
    ConnectionState state = ConnectionState::Disconnected;
    QString reason;
    QUrl server;
    bool tokenGiven = false;
    const ServerFigures *figures = nullptr; // null until the server has answered
    const RoomsModel *rooms = nullptr;
};

class AlertRule
{
public:
    AlertRule() = default;
    virtual ~AlertRule();
    Q_DISABLE_COPY_MOVE(AlertRule)

    virtual void evaluate(const AlertContext &context, AlertsModel &alerts) = 0;
    // Another server (or none): forget what was remembered about the last one.
    virtual void reset() {}
};

// "server.draining", "server.unreachable", "server.unauthorised".
class ConnectionAlertRule final : public AlertRule
{
public:
    void evaluate(const AlertContext &context, AlertsModel &alerts) override;
};

// "server.nearCap": open connections at or above `raiseAt` of the server's
// cap, cleared below `clearBelow` (so a count hovering at the line does not
// flicker). Only for servers that report their cap.
class ConnectionCapRule final : public AlertRule
{
public:
    explicit ConnectionCapRule(double raiseAt = 0.9, double clearBelow = 0.85);
    void evaluate(const AlertContext &context, AlertsModel &alerts) override;

private:
    double m_raiseAt = 0.9;
    double m_clearBelow = 0.85;
};

// Connections the server refused at a limit (its rejection counter for
// `reason` went up): raised with the number refused, cleared once the counter
// has stood still for `quietSeconds` of the server's clock.
class RefusalAlertRule final : public AlertRule
{
public:
    RefusalAlertRule(QString rejectionReason, QString key, QString title, QString advice, qint64 quietSeconds = 300);
    void evaluate(const AlertContext &context, AlertsModel &alerts) override;
    void reset() override;

private:
    QString m_reason;
    QString m_key;
    QString m_title;
    QString m_advice;
    qint64 m_quietSeconds = 300;
    std::optional<qint64> m_last;   // the counter at the previous figures
    qint64 m_refusedSinceRaised = 0;
    QDateTime m_lastRise;           // server clock
};

// "guests.waitingTooLong": a guest has waited longer than the limit to be
// admitted (measured on the server's clock, from when the guest began to
// wait). One alert naming the rooms, the longest wait first.
class WaitingGuestRule final : public AlertRule
{
public:
    static constexpr qint64 kDefaultLimitSeconds = 5 * 60;

    explicit WaitingGuestRule(qint64 limitSeconds = kDefaultLimitSeconds);
    void setLimit(qint64 seconds) { m_limit = std::max<qint64>(1, seconds); }
    [[nodiscard]] qint64 limit() const { return m_limit; }
    void evaluate(const AlertContext &context, AlertsModel &alerts) override;

private:
    qint64 m_limit = kDefaultLimitSeconds;
};

// "server.auditBehind": the audit log is falling behind. Critical while
// writes fail (records wait in memory; the server also says "degraded") or
// records were dropped since the console connected; a warning while the
// backlog stands above `backlogWarning` records.
class AuditBehindRule final : public AlertRule
{
public:
    explicit AuditBehindRule(qint64 backlogWarning = 1000);
    void evaluate(const AlertContext &context, AlertsModel &alerts) override;
    void reset() override { m_droppedAtStart.reset(); }

private:
    qint64 m_backlogWarning = 1000;
    std::optional<qint64> m_droppedAtStart; // records dropped before this console looked
};

// "server.degraded": the server says "degraded" for a reason other than its
// audit log (which has its own alert): in a cluster, Redis is out of reach,
// so rooms are not shared and chat is refused until it returns.
class DegradedRule final : public AlertRule
{
public:
    void evaluate(const AlertContext &context, AlertsModel &alerts) override;
};

// The rules every console runs.
[[nodiscard]] std::vector<std::unique_ptr<AlertRule>> standardAlertRules();

} // namespace medrelay::console
