// The console on the admin event stream, against a real medrelay-server
// (QProcess, ephemeral port) and real WebSocket clients: each kind of change
// reaches the models; a console that lost the stream resumes without a gap,
// and after a restart takes a fresh snapshot; 2,000 rooms arrive row by row
// and as one snapshot; the consultation view; the waiting-room, audit and
// connection-cap alerts; and polling for a server that has no stream.
// Every wait is for a state or an event; the timeouts only end a broken test.
#include "ConsoleFixture.h"
#include "ProcessSignal.h"
#include "ServerProcess.h"
#include "TcpRelay.h"
#include "controller/Consultation.h"
#include "controller/ConsoleController.h"
#include "controller/FallbackSource.h"
#include "controller/StreamSource.h"
#include "core/AdminClient.h"
#include "core/AlertsModel.h"
#include "core/EventLogModel.h"
#include "core/MessageCountsModel.h"
#include "core/ParticipantsModel.h"
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"
#include "core/TimelineModel.h"
#include "widgets/ConfirmDialog.h"
#include "widgets/ConsultationPanel.h"
#include "widgets/MainWindow.h"

#include <QApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTcpServer>
#include <QtTest>

#include <algorithm>
#include <csignal>
#include <memory>
#include <sys/resource.h>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using medrelay::adminapi::RoomInfo;
using medrelay::console::AdminClient;
using medrelay::console::Alert;
using medrelay::console::Confirmation;
using medrelay::console::ConsoleController;
using medrelay::console::EventLogModel;
using medrelay::console::FallbackSource;
using medrelay::console::MainWindow;
using medrelay::console::RoomsModel;
using medrelay::consoletest::Console;
using medrelay::consoletest::RoomClient;
using medrelay::consoletest::joined;
using medrelay::consoletest::ServerProcess;
using medrelay::test::TcpRelay;
using State = medrelay::console::ConnectionState;

namespace {

const QString kToken = u"console-stream-token-0123456789"_s;
constexpr int kGuard = 20000; // only so that a broken test ends

QJsonObject joinMessage(const QString &room, qint64 appointment, qint64 user, const QString &name,
                        const QString &role = {})
{
    QJsonObject o{{u"type"_s, u"telemedicine_user_joined"_s},
                  {u"roomId"_s, room},
                  {u"appointmentId"_s, static_cast<double>(appointment)},
                  {u"userId"_s, static_cast<double>(user)},
                  {u"userName"_s, name}};
    if (!role.isEmpty())
        o.insert(u"role"_s, role);
    return o;
}

// A guest who asks to join a room with a waiting room and is told to wait.
std::unique_ptr<RoomClient> waitingGuest(const ServerProcess &server, const QString &room, qint64 appointment,
                                         qint64 user, const QString &name)
{
    auto c = std::make_unique<RoomClient>();
    if (!c->open(server.wsUrl()))
        return nullptr;
    c->send(joinMessage(room, appointment, user, name));
    if (!c->waitFor(u"waiting"_s, kGuard))
        return nullptr;
    return c;
}

// The value of `field` in the last message of `type` a client received.
QString lastField(const RoomClient &c, const QString &type, const QString &field)
{
    QString value;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == type) {
            const QJsonValue v = m.value(field);
            value = v.isString() ? v.toString() : QString::number(v.toInteger());
        }
    }
    return value;
}

// The server's own view of one room, read without the console.
QJsonObject serverRoom(const QUrl &server, const QString &roomId)
{
    QNetworkAccessManager nam;
    QNetworkRequest request(server.resolved(QUrl(u"/admin/rooms/"_s + roomId)));
    request.setRawHeader("Authorization", "Bearer " + kToken.toUtf8());
    QNetworkReply *reply = nam.get(request);
    QSignalSpy done(reply, &QNetworkReply::finished);
    done.wait(kGuard);
    const QJsonObject o = QJsonDocument::fromJson(reply->readAll()).object();
    reply->deleteLater();
    return o;
}

QStringList serverRoomIds(const QUrl &server)
{
    QStringList ids;
    for (int offset = 0;; offset += 500) {
        QNetworkAccessManager nam;
        QNetworkRequest request(server.resolved(QUrl(u"/admin/rooms?limit=500&offset=%1"_s.arg(offset))));
        request.setRawHeader("Authorization", "Bearer " + kToken.toUtf8());
        QNetworkReply *reply = nam.get(request);
        QSignalSpy done(reply, &QNetworkReply::finished);
        done.wait(kGuard);
        const QJsonObject page = QJsonDocument::fromJson(reply->readAll()).object();
        reply->deleteLater();
        for (const QJsonValue &r : page.value("rooms"_L1).toArray())
            ids.append(r.toObject().value("id"_L1).toString());
        if (offset + 500 >= page.value("total"_L1).toInt())
            break;
    }
    ids.sort();
    return ids;
}

QStringList consoleRoomIds(const RoomsModel &rooms)
{
    QStringList ids = rooms.keys();
    ids.sort();
    return ids;
}

bool logHas(const EventLogModel &log, const QString &kind, const QString &roomId = {}, const QString &detail = {})
{
    for (const auto &e : log.entries()) {
        if (e.kind == kind && (roomId.isEmpty() || e.roomId == roomId) && (detail.isEmpty() || e.detail == detail))
            return true;
    }
    return false;
}

bool logMentions(const EventLogModel &log, const QString &text)
{
    for (const auto &e : log.entries()) {
        if (e.detail.contains(text))
            return true;
    }
    return false;
}

const medrelay::adminapi::ParticipantInfo *participant(const RoomInfo *room, const QString &connectionId)
{
    if (!room)
        return nullptr;
    for (const auto &p : room->participants) {
        if (p.connectionId == connectionId)
            return &p;
    }
    return nullptr;
}

bool timelineHas(const medrelay::console::TimelineModel &timeline, const QString &text)
{
    for (const auto &e : timeline.entries()) {
        if (e.text.contains(text))
            return true;
    }
    return false;
}

template<typename Dialog>
Dialog *visibleDialog(const QWidget &parent)
{
    for (Dialog *d : parent.findChildren<Dialog *>()) {
        if (d->isVisible())
            return d;
    }
    return nullptr;
}

// A medrelay server from before the event stream, as far as the console
// can tell: /health, /stats and /admin/events, and 404 for /admin/ws.
class OldServer final : public QObject
{
    Q_OBJECT

public:
    OldServer()
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection())
                serve(socket);
        });
        m_server.listen(QHostAddress::LocalHost, 0);
    }
    Q_DISABLE_COPY_MOVE(OldServer)

    [[nodiscard]] QUrl url() const { return QUrl(u"http://127.0.0.1:%1"_s.arg(m_server.serverPort())); }
    [[nodiscard]] const QList<QByteArray> &heads() const { return m_heads; }

private:
    void serve(QTcpSocket *socket)
    {
        socket->setParent(this);
        auto buffer = std::make_shared<QByteArray>();
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        connect(socket, &QTcpSocket::readyRead, socket, [this, socket, buffer] {
            *buffer += socket->readAll();
            const qsizetype end = buffer->indexOf("\r\n\r\n");
            if (end < 0)
                return;
            const QByteArray head = buffer->left(end);
            buffer->clear();
            m_heads.append(head);
            const QByteArray target = head.split(' ').value(1);
            const QByteArray path = target.left(target.indexOf('?') < 0 ? target.size() : target.indexOf('?'));
            int status = 200;
            QByteArray body;
            if (path == "/health") {
                body = R"({"status":"healthy","timestamp":"2026-11-27T10:00:00.000Z","uptime":60,"connections":1,"rooms":1})";
            } else if (path == "/stats") {
                body = R"({"version":"0.0.9","status":"healthy","mode":"production","timestamp":"2026-11-27T10:00:00.000Z",)"
                       R"("uptime":60,"connections":1,"rooms":1,"roomDetails":[{"id":"legacy-1","appointmentId":7,)"
                       R"("connectionCount":1,"createdAt":"2026-11-27T09:50:00.000Z","lastActivity":"2026-11-27T09:59:00.000Z",)"
                       R"("participants":[{"connectionId":"c1","userId":"70","userName":"Dr Old","role":"doctor",)"
                       R"("address":"10.0.0.7","joinedAt":"2026-11-27T09:50:00.000Z","lastActivity":"2026-11-27T09:59:00.000Z"}]}],)"
                       R"("messagesByType":{},"errorsByReason":{},"rejectionsByReason":{},"perSecond":{},"totals":{}})";
            } else if (path == "/admin/events") {
                body = R"({"nextSeq":1,"events":[]})";
            } else {
                status = 404;
                body = R"({"error":{"code":"not_found","message":"no such endpoint"}})";
            }
            socket->write("HTTP/1.1 " + QByteArray::number(status) + (status == 200 ? " OK" : " Not Found")
                          + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size())
                          + "\r\nConnection: close\r\n\r\n" + body);
            socket->disconnectFromHost();
        });
    }

    QTcpServer m_server;
    QList<QByteArray> m_heads;
};

} // namespace

class TestConsoleStream final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void eachKindOfChangeReachesTheModels();
    void missedChangesAreReplayedAfterALostConnection();
    void aRestartedServerGivesAFreshSnapshot();
    void tooManyMissedChangesGiveAFreshSnapshot();
    void twoThousandRooms();
    void consultationView();
    void guestWaitingTooLongRaisesAnAlert();
    void auditLogFallingBehindRaisesAnAlert();
    void connectionsNearTheCapRaiseAnAlert();
    void pollsAServerWithoutTheStream();
};

void TestConsoleStream::eachKindOfChangeReachesTheModels()
{
    ServerProcess server(kToken, {u"--waiting-room"_s, u"on"_s, u"--resume-grace"_s, u"60"_s});
    QVERIFY2(server.start(), qPrintable(server.error()));
    Console console;
    console.controller.connectTo(server.httpUrl(), kToken);
    QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
    QVERIFY(console.source()->isStreaming());
    RoomsModel *rooms = console.controller.rooms();
    EventLogModel *log = console.controller.eventLog();
    QSignalSpy resets(rooms, &QAbstractItemModel::modelReset);

    // room_opened, participant_joined: the room with its host, from the stream.
    auto doctor = joined(server, u"cardio-1"_s, 1, 11, u"Dr Ada"_s, u"doctor"_s);
    QVERIFY(doctor);
    QTRY_VERIFY_WITH_TIMEOUT(participant(rooms->room(u"cardio-1"_s), doctor->connectionId()), kGuard);
    const RoomInfo *room = rooms->room(u"cardio-1"_s);
    QCOMPARE(room->appointmentId, 1);
    QCOMPARE(room->connectionCount, 1);
    QVERIFY(room->hostPresent);
    QVERIFY(room->waitingRoom);
    QVERIFY(room->createdAt.isValid());
    QCOMPARE(participant(room, doctor->connectionId())->userName, u"Dr Ada"_s);
    QVERIFY(participant(room, doctor->connectionId())->host);
    QVERIFY(logHas(*log, u"room_created"_s, u"cardio-1"_s));
    QVERIFY(logHas(*log, u"join"_s, u"cardio-1"_s));

    // participant_waiting: in the waiting room, who and since when.
    auto guest = waitingGuest(server, u"cardio-1"_s, 1, 22, u"Pat Doe"_s);
    QVERIFY(guest);
    QTRY_COMPARE_WITH_TIMEOUT(rooms->room(u"cardio-1"_s)->waitingCount, 1, kGuard);
    QCOMPARE(rooms->room(u"cardio-1"_s)->waiting.size(), 1);
    QCOMPARE(rooms->room(u"cardio-1"_s)->waiting.at(0).userId, u"22"_s);
    QCOMPARE(rooms->room(u"cardio-1"_s)->waiting.at(0).userName, u"Pat Doe"_s);
    QVERIFY(rooms->room(u"cardio-1"_s)->waiting.at(0).joinedAt.isValid());
    QVERIFY(rooms->longestWaitSeconds(*rooms->room(u"cardio-1"_s)) >= 0);
    QVERIFY(logHas(*log, u"waiting"_s, u"cardio-1"_s));

    // admission: the host admits; the guest moves from waiting to the room.
    QVERIFY(doctor->waitFor(u"admission_request"_s, kGuard));
    const QString guestConnection = lastField(*doctor, u"admission_request"_s, u"connectionId"_s);
    doctor->send({{u"type"_s, u"admit"_s}, {u"roomId"_s, u"cardio-1"_s}, {u"connectionId"_s, guestConnection}});
    QTRY_VERIFY_WITH_TIMEOUT(participant(rooms->room(u"cardio-1"_s), guestConnection), kGuard);
    QCOMPARE(rooms->room(u"cardio-1"_s)->waitingCount, 0);
    QVERIFY(rooms->room(u"cardio-1"_s)->waiting.isEmpty());
    QCOMPARE(rooms->room(u"cardio-1"_s)->connectionCount, 2);
    QVERIFY(logHas(*log, u"admission"_s, u"cardio-1"_s, u"admitted"_s));

    // room_settings: locked.
    doctor->send({{u"type"_s, u"room_settings"_s}, {u"roomId"_s, u"cardio-1"_s}, {u"locked"_s, true}});
    QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"cardio-1"_s)->locked, kGuard);
    QVERIFY(logHas(*log, u"room_settings"_s, u"cardio-1"_s));

    // join_refused: a guest at a locked door.
    auto refused = std::make_unique<RoomClient>();
    QVERIFY(refused->open(server.wsUrl()));
    refused->send(joinMessage(u"cardio-1"_s, 1, 33, u"Late Guest"_s));
    QTRY_VERIFY_WITH_TIMEOUT(logHas(*log, u"join_denied"_s, u"cardio-1"_s, u"room_locked"_s), kGuard);

    // activity: a message moves the room's last activity and seq, once a second.
    guest->send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"cardio-1"_s},
                 {u"appointmentId"_s, 1}, {u"message"_s, u"hello doctor"_s}});
    QVERIFY(doctor->waitFor(u"telemedicine_chat_message"_s, kGuard));
    const QJsonObject truth = serverRoom(server.httpUrl(), u"cardio-1"_s);
    const QDateTime lastActivity = medrelay::adminapi::fromIso(truth.value("lastActivity"_L1).toString());
    QVERIFY(truth.value("lastSeq"_L1).toInteger() >= 1);
    QTRY_COMPARE_WITH_TIMEOUT(rooms->room(u"cardio-1"_s)->lastActivity, lastActivity, kGuard);
    QCOMPARE(rooms->room(u"cardio-1"_s)->lastSeq, truth.value("lastSeq"_L1).toInteger());

    // counters: the header's figures, the cap included.
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.figures() && console.controller.figures()->connections == 3, kGuard);
    QCOMPARE(console.controller.figures()->maxConnections.value_or(0), 20000);

    // participant_away: a connection lost without a close keeps its place.
    guest.reset(); // aborted: no close frame
    QTRY_VERIFY_WITH_TIMEOUT(participant(rooms->room(u"cardio-1"_s), guestConnection)
                                 && participant(rooms->room(u"cardio-1"_s), guestConnection)->state == u"away"_s,
                             kGuard);
    QVERIFY(logHas(*log, u"away"_s, u"cardio-1"_s));

    // participant_left.
    auto nurse = joined(server, u"cardio-1"_s, 1, 44, u"Nurse Joy"_s, u"nurse"_s);
    QVERIFY(nurse);
    QTRY_VERIFY_WITH_TIMEOUT(participant(rooms->room(u"cardio-1"_s), nurse->connectionId()), kGuard);
    nurse->send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"cardio-1"_s}});
    QTRY_VERIFY_WITH_TIMEOUT(!participant(rooms->room(u"cardio-1"_s), nurse->connectionId()), kGuard);
    QVERIFY(logHas(*log, u"leave"_s, u"cardio-1"_s, u"left"_s));

    // event (an admin action) and room_closed.
    auto other = joined(server, u"other"_s, 2, 55, u"Dr Lee"_s, u"doctor"_s);
    QVERIFY(other);
    QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"other"_s), kGuard);
    console.client.closeRoom(u"other"_s, u"test"_s);
    QTRY_VERIFY_WITH_TIMEOUT(!rooms->room(u"other"_s), kGuard);
    QVERIFY(logHas(*log, u"room_closed"_s, u"other"_s));
    QTRY_VERIFY_WITH_TIMEOUT(logHas(*log, u"admin"_s, u"other"_s, u"close_room"_s), kGuard);

    // consultation_ended, through the confirmation like every admin action.
    QSignalSpy asked(console.controller.actions(), &medrelay::console::AdminActions::confirmationRequested);
    QVERIFY(console.controller.endConsultation(u"cardio-1"_s));
    QCOMPARE(asked.count(), 1);
    const auto confirmation = asked.at(0).at(0).value<Confirmation>();
    QCOMPARE(confirmation.kind, Confirmation::Kind::EndConsultation);
    QVERIFY2(confirmation.message.contains(u"cardio-1"_s), qPrintable(confirmation.message));
    console.controller.actions()->confirm(confirmation, u"test over"_s);
    QVERIFY(doctor->waitFor(u"consultation_ended"_s, kGuard));
    QTRY_VERIFY_WITH_TIMEOUT(!rooms->room(u"cardio-1"_s), kGuard);
    QVERIFY(logHas(*log, u"consultation_ended"_s, u"cardio-1"_s, u"ended_by_admin"_s));

    // All of it as changes to rows, none as a reset; nothing missed, nothing reset.
    QCOMPARE(resets.count(), 0);
    QCOMPARE(console.source()->stream()->resets(), 0);
    QCOMPARE(consoleRoomIds(*rooms), serverRoomIds(server.httpUrl()));
}

void TestConsoleStream::missedChangesAreReplayedAfterALostConnection()
{
    ServerProcess server(kToken);
    QVERIFY2(server.start(), qPrintable(server.error()));
    TcpRelay link(server.port());
    QVERIFY(link.start());
    Console console;
    console.controller.connectTo(link.httpUrl(), kToken);
    auto a = joined(server, u"a"_s, 1, 1, u"A"_s, u"doctor"_s);
    QVERIFY(a);
    RoomsModel *rooms = console.controller.rooms();
    QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"a"_s) && console.controller.isLive(), kGuard);
    QVERIFY(console.source()->isStreaming());
    const QString epoch = console.source()->stream()->epoch();

    // The link fails and stays down: what is shown is stale.
    link.cut();
    QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Unreachable, kGuard);
    QVERIFY(console.controller.isStale());

    // Meanwhile on the server: a room opens, another closes, people come and go.
    auto b = joined(server, u"b"_s, 2, 2, u"B"_s, u"doctor"_s);
    auto c = joined(server, u"c"_s, 3, 3, u"C"_s, u"doctor"_s);
    auto c2 = joined(server, u"c"_s, 3, 4, u"C2"_s, u"patient"_s);
    QVERIFY(b && c && c2);
    a->send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"a"_s}});
    QTRY_COMPARE_WITH_TIMEOUT(serverRoomIds(server.httpUrl()), (QStringList{u"b"_s, u"c"_s}), kGuard);

    // Back: the stream resumes where it stopped and replays what was missed.
    QVERIFY(link.restore());
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.isLive() && !console.controller.isStale(), kGuard);
    QTRY_COMPARE_WITH_TIMEOUT(consoleRoomIds(*rooms), (QStringList{u"b"_s, u"c"_s}), kGuard);
    QCOMPARE(rooms->room(u"c"_s)->connectionCount, 2);
    QVERIFY(participant(rooms->room(u"c"_s), c2->connectionId()));
    QCOMPARE(participant(rooms->room(u"c"_s), c2->connectionId())->userName, u"C2"_s);
    QVERIFY(console.source()->stream()->resumes() >= 1);
    QCOMPARE(console.source()->stream()->resets(), 0);
    QCOMPARE(console.source()->stream()->epoch(), epoch);
    // No gap in the event log either: what happened while away is there.
    EventLogModel *log = console.controller.eventLog();
    QVERIFY(logHas(*log, u"room_created"_s, u"b"_s));
    QVERIFY(logHas(*log, u"join"_s, u"c"_s));
    QVERIFY(logHas(*log, u"room_closed"_s, u"a"_s));
    QVERIFY(logMentions(*log, u"none missed"_s));
    QVERIFY(link.connectionsRelayed() >= 2);
}

void TestConsoleStream::aRestartedServerGivesAFreshSnapshot()
{
    ServerProcess server(kToken);
    QVERIFY2(server.start(), qPrintable(server.error()));
    const quint16 port = server.port();
    Console console;
    QSignalSpy restarted(console.controller.source(), &medrelay::console::DataSource::serverRestarted);
    console.controller.connectTo(server.httpUrl(), kToken);
    auto before = joined(server, u"before-restart"_s, 1, 1, u"A"_s, u"doctor"_s);
    QVERIFY(before);
    RoomsModel *rooms = console.controller.rooms();
    QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"before-restart"_s), kGuard);
    const QString epoch = console.source()->stream()->epoch();

    // It dies without a drain (which would close its rooms on the stream
    // first), so the console is left holding rooms the server no longer has.
    QVERIFY(medrelay::test::signalPid(server.processId(), SIGKILL));
    server.stop();
    QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Unreachable, kGuard);
    QVERIFY(rooms->room(u"before-restart"_s)); // the last known state, stale
    QVERIFY2(server.start(port), qPrintable(server.error()));
    auto after = joined(server, u"after-restart"_s, 2, 2, u"B"_s, u"doctor"_s);
    QVERIFY(after);

    // Another epoch: nothing to resume from, a fresh snapshot instead.
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.isLive(), kGuard);
    QTRY_COMPARE_WITH_TIMEOUT(consoleRoomIds(*rooms), QStringList{u"after-restart"_s}, kGuard);
    QVERIFY(console.source()->isStreaming());
    QVERIFY(console.source()->stream()->epoch() != epoch);
    QVERIFY(console.source()->stream()->resets() >= 1);
    QVERIFY(restarted.count() >= 1);
    QVERIFY(logHas(*console.controller.eventLog(), u"connection"_s));
    QVERIFY(!console.controller.isStale());
}

void TestConsoleStream::tooManyMissedChangesGiveAFreshSnapshot()
{
    ServerProcess server(kToken, {u"--rate-limit"_s, u"0"_s});
    QVERIFY2(server.start(), qPrintable(server.error()));
    TcpRelay link(server.port());
    QVERIFY(link.start());
    Console console;
    console.controller.connectTo(link.httpUrl(), kToken);
    auto gone = joined(server, u"gone"_s, 1, 1, u"A"_s, u"doctor"_s);
    QVERIFY(gone);
    RoomsModel *rooms = console.controller.rooms();
    QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"gone"_s) && console.controller.isLive(), kGuard);
    const QString epoch = console.source()->stream()->epoch();
    QSignalSpy resets(rooms, &QAbstractItemModel::modelReset);

    link.cut();
    QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Unreachable, kGuard);

    // More changes than the server keeps for a resume (10,000): a room
    // opened, joined, left and closed (4 changes) 2,600 times over, then
    // what the console must end up showing.
    RoomClient churn;
    QVERIFY(churn.open(server.wsUrl()));
    for (int i = 0; i < 2600; ++i) {
        churn.send(joinMessage(u"churn"_s, 9, 9, u"Churn"_s, u"doctor"_s));
        churn.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"churn"_s}});
    }
    const auto count = [](const RoomClient &c, const QString &type) {
        return std::count_if(c.received().cbegin(), c.received().cend(),
                             [&type](const QJsonObject &m) { return m.value("type"_L1).toString() == type; });
    };
    QTRY_COMPARE_WITH_TIMEOUT(count(churn, u"room_state"_s), 2600, 60000);
    gone->send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"gone"_s}});
    auto kept = joined(server, u"kept"_s, 2, 2, u"B"_s, u"doctor"_s);
    QVERIFY(kept);
    QTRY_COMPARE_WITH_TIMEOUT(serverRoomIds(server.httpUrl()), QStringList{u"kept"_s}, kGuard);

    // Back: nothing to replay from, so a fresh snapshot (same epoch), in place.
    QVERIFY(link.restore());
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.isLive() && !console.controller.isStale(), kGuard);
    QTRY_COMPARE_WITH_TIMEOUT(consoleRoomIds(*rooms), QStringList{u"kept"_s}, kGuard);
    QCOMPARE(console.source()->stream()->epoch(), epoch);
    QVERIFY(console.source()->stream()->resets() >= 1);
    QCOMPARE(participant(rooms->room(u"kept"_s), kept->connectionId())->userName, u"B"_s);
    QCOMPARE(console.source()->stream()->resumes(), 0);
    QVERIFY(logMentions(*console.controller.eventLog(), u"away too long"_s));
    QCOMPARE(resets.count(), 0);
    QVERIFY(console.source()->isStreaming());
}

void TestConsoleStream::twoThousandRooms()
{
    constexpr int kRooms = 2000;
    ServerProcess server(kToken, {u"--max-rooms-per-connection"_s, u"2000"_s, u"--rate-limit"_s, u"0"_s});
    QVERIFY2(server.start(), qPrintable(server.error()));
    // One console watches them arrive one by one; another connects once they are there.
    Console early;
    early.controller.connectTo(server.httpUrl(), kToken);
    QTRY_COMPARE_WITH_TIMEOUT(early.controller.state(), State::Connected, kGuard);
    RoomsModel *rooms = early.controller.rooms();
    QSignalSpy resets(rooms, &QAbstractItemModel::modelReset);
    QSignalSpy proxyResets(early.controller.roomsFilter(), &QAbstractItemModel::modelReset);

    const auto id = [](int i) { return u"room-%1"_s.arg(i, 4, 10, QChar(u'0')); };
    RoomClient many;
    QVERIFY(many.open(server.wsUrl()));
    RoomClient second;
    QVERIFY(second.open(server.wsUrl()));
    // The joins go out back to back (not one per reply), as a busy clinic's would.
    const auto received = [](const RoomClient &c, const QString &type) {
        return std::count_if(c.received().cbegin(), c.received().cend(),
                             [&type](const QJsonObject &m) { return m.value("type"_L1).toString() == type; });
    };
    for (int i = 0; i < kRooms; ++i)
        many.send(joinMessage(id(i), 10000 + i, 1, u"Dr Many"_s, u"doctor"_s));
    QTRY_COMPARE_WITH_TIMEOUT(received(many, u"room_state"_s), kRooms, 60000);
    for (int i = 0; i < 100; ++i)
        second.send(joinMessage(id(i), 10000 + i, 2, u"Pat Second"_s, u"patient"_s));
    QTRY_COMPARE_WITH_TIMEOUT(received(second, u"room_state"_s), 100, 60000);
    const QString manyId = lastField(many, u"room_state"_s, u"connectionId"_s);
    const QString secondId = lastField(second, u"room_state"_s, u"connectionId"_s);
    QVERIFY(!manyId.isEmpty() && !secondId.isEmpty());

    const auto complete = [&](const RoomsModel &m) {
        if (m.rowCount() != kRooms)
            return false;
        for (int i = 0; i < kRooms; ++i) {
            const RoomInfo *r = m.room(id(i));
            if (!r || r->connectionCount != (i < 100 ? 2 : 1) || r->participants.size() != (i < 100 ? 2 : 1))
                return false;
        }
        return true;
    };
    QTRY_VERIFY_WITH_TIMEOUT(complete(*rooms), 60000);
    for (const int i : {0, 99, 100, 1999}) {
        const RoomInfo *r = rooms->room(id(i));
        QCOMPARE(r->appointmentId, 10000 + i);
        QVERIFY(participant(r, manyId));
        QCOMPARE(participant(r, manyId)->userName, u"Dr Many"_s);
    }
    QCOMPARE(participant(rooms->room(id(42)), secondId)->userName, u"Pat Second"_s);
    QCOMPARE(early.controller.roomsFilter()->rowCount(), kRooms);
    QCOMPARE(resets.count(), 0);
    QCOMPARE(proxyResets.count(), 0);

    // The late console gets them in one snapshot.
    Console late;
    late.controller.connectTo(server.httpUrl(), kToken);
    QTRY_VERIFY_WITH_TIMEOUT(complete(*late.controller.rooms()), 60000);
    QCOMPARE(consoleRoomIds(*late.controller.rooms()), serverRoomIds(server.httpUrl()));

    // The filter and the sort work on all of them.
    early.controller.setFilterText(u"room-1999"_s);
    QCOMPARE(early.controller.roomsFilter()->rowCount(), 1);
    early.controller.setFilterText(u"pat second"_s);
    QCOMPARE(early.controller.roomsFilter()->rowCount(), 100);
    early.controller.setFilterText({});
    QTableView *view = early.window.roomsView();
    view->sortByColumn(RoomsModel::RoomIdColumn, Qt::DescendingOrder);
    QCOMPARE(view->model()->index(0, 0).data(RoomsModel::RoomIdRole).toString(), id(kRooms - 1));

    // Half of them empty out and close: rows go one by one, both consoles agree with the server.
    for (int i = kRooms / 2; i < kRooms; ++i)
        many.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, id(i)}});
    QTRY_COMPARE_WITH_TIMEOUT(rooms->rowCount(), kRooms / 2, 60000);
    QTRY_COMPARE_WITH_TIMEOUT(late.controller.rooms()->rowCount(), kRooms / 2, 60000);
    QCOMPARE(consoleRoomIds(*rooms), serverRoomIds(server.httpUrl()));
    QCOMPARE(consoleRoomIds(*late.controller.rooms()), consoleRoomIds(*rooms));
    QVERIFY(!rooms->room(id(kRooms / 2)));
    QVERIFY(rooms->room(id(kRooms / 2 - 1)));
    QCOMPARE(resets.count(), 0);
    QCOMPARE(early.source()->stream()->resets(), 0);
}

void TestConsoleStream::consultationView()
{
    ServerProcess server(kToken, {u"--waiting-room"_s, u"on"_s});
    QVERIFY2(server.start(), qPrintable(server.error()));
    Console console;
    console.controller.connectTo(server.httpUrl(), kToken);
    auto doctor = joined(server, u"derma-88"_s, 88, 11, u"Dr Ada"_s, u"doctor"_s);
    QVERIFY(doctor);
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"derma-88"_s), kGuard);

    // Opened from the rooms table: Enter on the selected room.
    QTableView *roomsView = console.window.roomsView();
    roomsView->setFocus();
    roomsView->selectRow(0);
    QTest::keyClick(roomsView, Qt::Key_Return);
    medrelay::console::Consultation *view = console.controller.consultation();
    QCOMPARE(view->roomId(), u"derma-88"_s);
    auto *panel = console.window.consultationPanel();
    QCOMPARE(console.window.sideTabs()->currentWidget(), panel);
    // The initial participants come from GET /admin/rooms/{id}.
    QTRY_VERIFY_WITH_TIMEOUT(view->fetched(), kGuard);
    QCOMPARE(view->participants()->rowCount(), 1);
    QCOMPARE(view->participants()->participant(doctor->connectionId())->userName, u"Dr Ada"_s);
    QVERIFY(view->participants()->participant(doctor->connectionId())->host);
    QVERIFY(timelineHas(*view->timeline(), u"Watching from here: 1 participant(s) present (Dr Ada (user 11))"_s));
    QVERIFY2(panel->titleLabel()->text().contains(u"derma-88"_s), qPrintable(panel->titleLabel()->text()));
    QVERIFY2(panel->stateLabel()->text().contains(u"A host is present"_s), qPrintable(panel->stateLabel()->text()));

    // A guest waits (named, once the view has fetched the room), then is admitted.
    auto guest = waitingGuest(server, u"derma-88"_s, 88, 22, u"Pat Doe"_s);
    QVERIFY(guest);
    QTRY_COMPARE_WITH_TIMEOUT(view->waiting()->rowCount(), 1, kGuard);
    QTRY_COMPARE_WITH_TIMEOUT(view->waiting()->itemAt(0)->userName, u"Pat Doe"_s, kGuard);
    QTRY_VERIFY_WITH_TIMEOUT(timelineHas(*view->timeline(), u"Pat Doe (user 22) is waiting to be admitted"_s), kGuard);
    QVERIFY(doctor->waitFor(u"admission_request"_s, kGuard));
    const QString guestConnection = lastField(*doctor, u"admission_request"_s, u"connectionId"_s);
    doctor->send({{u"type"_s, u"admit"_s}, {u"roomId"_s, u"derma-88"_s}, {u"connectionId"_s, guestConnection}});
    QTRY_COMPARE_WITH_TIMEOUT(view->participants()->rowCount(), 2, kGuard);
    QCOMPARE(view->waiting()->rowCount(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(timelineHas(*view->timeline(), u"Pat Doe (user 22) was admitted"_s), kGuard);
    QTRY_VERIFY_WITH_TIMEOUT(timelineHas(*view->timeline(), u"Pat Doe (user 22) joined"_s), kGuard);

    // Settings.
    doctor->send({{u"type"_s, u"room_settings"_s}, {u"roomId"_s, u"derma-88"_s}, {u"waitingRoom"_s, false}});
    QTRY_VERIFY_WITH_TIMEOUT(
        timelineHas(*view->timeline(), u"Settings changed by Dr Ada (user 11): waiting room off, unlocked"_s), kGuard);
    QTRY_VERIFY_WITH_TIMEOUT(panel->stateLabel()->text().contains(u"Waiting room off"_s), kGuard);

    // Messages by kind: counted, never shown.
    QVERIFY(guest->waitFor(u"admitted"_s, kGuard));
    for (int i = 0; i < 3; ++i)
        doctor->chat(u"confidential words %1"_s.arg(i));
    for (int i = 0; i < 2; ++i)
        guest->send({{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, u"derma-88"_s},
                     {u"appointmentId"_s, 88}, {u"data"_s, QJsonObject{{u"stroke"_s, i}}}});
    QTRY_COMPARE_WITH_TIMEOUT(view->messages()->count(u"telemedicine_chat_message"_s), 3, kGuard);
    QTRY_COMPARE_WITH_TIMEOUT(view->messages()->count(u"whiteboard_update"_s), 2, kGuard);
    for (const auto &e : view->timeline()->entries())
        QVERIFY(!e.text.contains(u"confidential"_s));

    // A participant leaves.
    guest->send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"derma-88"_s}});
    QTRY_VERIFY_WITH_TIMEOUT(timelineHas(*view->timeline(), u"Pat Doe (user 22) left"_s), kGuard);
    QTRY_COMPARE_WITH_TIMEOUT(view->participants()->rowCount(), 1, kGuard);

    // End consultation from the view, confirmed as everywhere else.
    QVERIFY(panel->endButton()->isEnabled());
    QTest::mouseClick(panel->endButton(), Qt::LeftButton);
    auto *confirm = visibleDialog<medrelay::console::ConfirmDialog>(console.window);
    QVERIFY(confirm);
    QCOMPARE(confirm->windowTitle(), u"End consultation"_s);
    confirm->accept();
    QVERIFY(doctor->waitFor(u"consultation_ended"_s, kGuard));
    QTRY_VERIFY_WITH_TIMEOUT(view->isGone(), kGuard);
    QTRY_VERIFY_WITH_TIMEOUT(timelineHas(*view->timeline(), u"The consultation ended (ended_by_admin)"_s), kGuard);
    QVERIFY2(panel->stateLabel()->text().contains(u"Over"_s), qPrintable(panel->stateLabel()->text()));
    QVERIFY(!panel->endButton()->isEnabled());
    QCOMPARE(view->participants()->rowCount(), 0);
}

void TestConsoleStream::guestWaitingTooLongRaisesAnAlert()
{
    ServerProcess server(kToken, {u"--waiting-room"_s, u"on"_s});
    QVERIFY2(server.start(), qPrintable(server.error()));
    Console console;
    console.controller.setWaitingAlertSeconds(1);
    console.controller.connectTo(server.httpUrl(), kToken);
    auto doctor = joined(server, u"late-room"_s, 5, 11, u"Dr Ada"_s, u"doctor"_s);
    QVERIFY(doctor);
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"late-room"_s), kGuard);
    QVERIFY(!console.controller.alerts()->isActive(u"guests.waitingTooLong"_s));

    auto guest = waitingGuest(server, u"late-room"_s, 5, 22, u"Pat Doe"_s);
    QVERIFY(guest);
    // The server's clock moves on (its counters, every second) until the wait passes the limit.
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.alerts()->isActive(u"guests.waitingTooLong"_s), kGuard);
    const Alert *alert = console.controller.alerts()->find(u"guests.waitingTooLong"_s);
    QVERIFY2(alert->detail.contains(u"room late-room"_s), qPrintable(alert->detail));
    QVERIFY2(alert->detail.startsWith(u"1 guest(s) have waited more than 1 s"_s), qPrintable(alert->detail));
    RoomsModel *rooms = console.controller.rooms();
    QVERIFY(rooms->index(rooms->rowOf(u"late-room"_s), RoomsModel::WaitingColumn)
                .data(RoomsModel::WaitingTooLongRole)
                .toBool());

    // Admitted: the alert goes.
    QVERIFY(doctor->waitFor(u"admission_request"_s, kGuard));
    doctor->send({{u"type"_s, u"admit"_s}, {u"roomId"_s, u"late-room"_s},
                  {u"connectionId"_s, lastField(*doctor, u"admission_request"_s, u"connectionId"_s)}});
    QTRY_VERIFY_WITH_TIMEOUT(!console.controller.alerts()->isActive(u"guests.waitingTooLong"_s), kGuard);
}

void TestConsoleStream::auditLogFallingBehindRaisesAnAlert()
{
    ServerProcess server(kToken);
    // The server may not grow a file past 16 KiB: once its audit log reaches
    // that, writes fail (EFBIG) as on a full disk.
    server.setChildModifier([] {
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit{16 * 1024, 16 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
    });
    QVERIFY2(server.start(), qPrintable(server.error()));
    Console console;
    console.controller.connectTo(server.httpUrl(), kToken);
    QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
    QVERIFY(console.controller.figures()->audit.has_value());
    QVERIFY(!console.controller.alerts()->isActive(u"server.auditBehind"_s));

    // Connections come and go (each a few audit records) until the log is full.
    for (int i = 0; i < 400 && !console.controller.alerts()->isActive(u"server.auditBehind"_s); ++i) {
        RoomClient c;
        QVERIFY(c.open(server.wsUrl()));
        QVERIFY(c.join(u"churn"_s, 1, i, u"Churn"_s, u"patient"_s));
        QTest::qWait(10);
    }
    QVERIFY(console.controller.alerts()->isActive(u"server.auditBehind"_s));
    const Alert *alert = console.controller.alerts()->find(u"server.auditBehind"_s);
    QCOMPARE(alert->severity, Alert::Severity::Critical);
    QVERIFY2(alert->detail.contains(u"wait in memory"_s), qPrintable(alert->detail));
    QCOMPARE(console.controller.figures()->status, u"degraded"_s);
    QVERIFY(console.controller.figures()->audit->behind);
    QVERIFY(console.controller.figures()->audit->backlog > 0);
}

void TestConsoleStream::connectionsNearTheCapRaiseAnAlert()
{
    ServerProcess server(kToken, {u"--max-connections"_s, u"2"_s});
    QVERIFY2(server.start(), qPrintable(server.error()));
    Console console;
    console.controller.connectTo(server.httpUrl(), kToken);
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.figures() && console.controller.figures()->maxConnections, kGuard);
    QCOMPARE(*console.controller.figures()->maxConnections, 2);
    QVERIFY(!console.controller.alerts()->isActive(u"server.nearCap"_s));
    auto a = joined(server, u"r"_s, 1, 1, u"A"_s, u"doctor"_s);
    auto b = joined(server, u"r"_s, 1, 2, u"B"_s, u"patient"_s);
    QVERIFY(a && b);
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.alerts()->isActive(u"server.nearCap"_s), kGuard);
    const Alert *alert = console.controller.alerts()->find(u"server.nearCap"_s);
    QCOMPARE(alert->severity, Alert::Severity::Critical);
    QVERIFY2(alert->detail.startsWith(u"2 of 2 connections are open"_s), qPrintable(alert->detail));
    b.reset();
    a.reset();
    QTRY_VERIFY_WITH_TIMEOUT(!console.controller.alerts()->isActive(u"server.nearCap"_s), kGuard);
}

void TestConsoleStream::pollsAServerWithoutTheStream()
{
    OldServer old;
    Console console;
    console.controller.connectTo(old.url(), kToken);
    QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
    QVERIFY(!console.source()->isStreaming());
    // It asked for the stream first, with the token on the upgrade.
    const auto askedForStream = [&] {
        for (const QByteArray &head : old.heads()) {
            if (head.startsWith("GET /admin/ws ") && head.contains("Authorization: Bearer " + kToken.toUtf8())
                && head.toLower().contains("upgrade: websocket"))
                return true;
        }
        return false;
    };
    QVERIFY(askedForStream());
    QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"legacy-1"_s), kGuard);
    QCOMPARE(console.controller.rooms()->room(u"legacy-1"_s)->participants.at(0).userName, u"Dr Old"_s);
    QCOMPARE(console.controller.figures()->version, u"0.0.9"_s);
    QVERIFY(!console.controller.figures()->maxConnections); // an older server does not say
    QVERIFY(logMentions(*console.controller.eventLog(), u"no event stream"_s));
    QVERIFY2(console.source()->description().contains(u"polled"_s), qPrintable(console.source()->description()));
    // And it keeps polling.
    const qsizetype polls = old.heads().size();
    QTRY_VERIFY_WITH_TIMEOUT(old.heads().size() > polls + 3, kGuard);
    QCOMPARE(console.controller.state(), State::Connected);
}

QTEST_MAIN(TestConsoleStream)
#include "tst_console_stream.moc"
