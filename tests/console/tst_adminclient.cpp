// AdminClient's state machine against a scripted HTTP server: the cases a
// real medrelay-server cannot easily be made to produce on demand (a long
// drain, a web page where the API should be, a server that never answers),
// plus the requests themselves (token, paths, event cursor, no overlap).
#include "core/AdminClient.h"

#include <QJsonDocument>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrlQuery>
#include <QtTest>

#include <functional>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using medrelay::adminapi::ActionResult;
using medrelay::console::AdminClient;
using State = AdminClient::State;

namespace {

struct Request
{
    QByteArray method;
    QByteArray target; // path and query, as sent
    QByteArray authorization;
    QByteArray body;
    [[nodiscard]] QString path() const
    {
        const qsizetype q = target.indexOf('?');
        return QString::fromLatin1(q < 0 ? target : target.left(q));
    }
    [[nodiscard]] QUrlQuery query() const
    {
        const qsizetype q = target.indexOf('?');
        return q < 0 ? QUrlQuery() : QUrlQuery(QString::fromLatin1(target.mid(q + 1)));
    }
};

struct Response
{
    int status = 200;
    QByteArray body;
    QByteArray contentType = "application/json";
    bool hang = false; // never answer
    int delayMs = 0;
};

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject health(const QString &status, double uptime = 10)
{
    return {{u"status"_s, status}, {u"timestamp"_s, u"2024-05-02T12:00:00.000Z"_s}, {u"uptime"_s, uptime},
            {u"connections"_s, 0}, {u"rooms"_s, 0}};
}

QJsonObject stats(const QString &status = u"healthy"_s)
{
    return {{u"version"_s, u"0.1.0"_s}, {u"status"_s, status}, {u"mode"_s, u"development"_s},
            {u"timestamp"_s, u"2024-05-02T12:00:00.000Z"_s}, {u"uptime"_s, 10}, {u"connections"_s, 0},
            {u"rooms"_s, 0}, {u"roomDetails"_s, QJsonArray()}};
}

// One request per connection, as the real server does (Connection: close).
class ScriptedServer final : public QObject
{
    Q_OBJECT

public:
    using Handler = std::function<Response(const Request &)>;

    explicit ScriptedServer(Handler handler)
        : m_handler(std::move(handler))
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection())
                serve(socket);
        });
        QVERIFY(m_server.listen(QHostAddress::LocalHost, 0));
    }

    ~ScriptedServer() override
    {
        // Sockets are children; close them while this object is still whole.
        for (QTcpSocket *socket : findChildren<QTcpSocket *>(Qt::FindDirectChildrenOnly)) {
            socket->blockSignals(true);
            delete socket;
        }
    }
    Q_DISABLE_COPY_MOVE(ScriptedServer)

    [[nodiscard]] QUrl url(const QString &path = {}) const
    {
        return QUrl(u"http://127.0.0.1:%1%2"_s.arg(m_server.serverPort()).arg(path));
    }
    [[nodiscard]] const QList<Request> &requests() const { return m_requests; }
    [[nodiscard]] int maxInFlight() const { return m_maxInFlight; }
    [[nodiscard]] qsizetype count(const QString &path) const
    {
        return std::count_if(m_requests.cbegin(), m_requests.cend(),
                             [&path](const Request &r) { return r.path() == path; });
    }

private:
    void serve(QTcpSocket *socket)
    {
        socket->setParent(this);
        ++m_inFlight;
        m_maxInFlight = std::max(m_maxInFlight, m_inFlight);
        auto buffer = std::make_shared<QByteArray>();
        connect(socket, &QTcpSocket::disconnected, socket, [this, socket] {
            --m_inFlight;
            socket->deleteLater();
        });
        connect(socket, &QTcpSocket::readyRead, socket, [this, socket, buffer] {
            *buffer += socket->readAll();
            const qsizetype end = buffer->indexOf("\r\n\r\n");
            if (end < 0)
                return;
            Request request;
            const QList<QByteArray> lines = buffer->left(end).split('\n');
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            request.method = first.value(0);
            request.target = first.value(1);
            qsizetype length = 0;
            for (const QByteArray &line : lines) {
                const QByteArray l = line.trimmed();
                if (l.toLower().startsWith("authorization:"))
                    request.authorization = l.mid(14).trimmed();
                if (l.toLower().startsWith("content-length:"))
                    length = l.mid(15).trimmed().toLongLong();
            }
            if (buffer->size() < end + 4 + length)
                return;
            request.body = buffer->mid(end + 4, length);
            buffer->clear();
            m_requests.append(request);
            const Response response = m_handler(request);
            if (response.hang)
                return;
            const auto answer = [socket, response] {
                QByteArray out = "HTTP/1.1 " + QByteArray::number(response.status) + " X\r\nContent-Type: "
                                 + response.contentType + "\r\nContent-Length: "
                                 + QByteArray::number(response.body.size()) + "\r\nConnection: close\r\n\r\n"
                                 + response.body;
                socket->write(out);
                socket->disconnectFromHost();
            };
            if (response.delayMs > 0)
                QTimer::singleShot(response.delayMs, socket, answer);
            else
                answer();
        });
    }

    QTcpServer m_server;
    Handler m_handler;
    QList<Request> m_requests;
    int m_inFlight = 0;
    int m_maxInFlight = 0;
};

Response healthyServer(const Request &r)
{
    if (r.path().endsWith("/health"_L1))
        return {200, json(health(u"healthy"_s))};
    if (r.path().endsWith("/stats"_L1))
        return {200, json(stats())};
    if (r.path().endsWith("/admin/events"_L1))
        return {200, json({{u"nextSeq"_s, 1}, {u"events"_s, QJsonArray()}})};
    return {404, R"({"error":{"code":"not_found","message":"no such path"}})"};
}

} // namespace

class TestAdminClient final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void connectsAndSendsTheToken()
    {
        ScriptedServer server(healthyServer);
        AdminClient client;
        QSignalSpy statsSpy(&client, &AdminClient::statsUpdated);
        QSignalSpy healthSpy(&client, &AdminClient::healthUpdated);
        client.setServer(server.url(), u"t0ken"_s);
        client.start();
        QCOMPARE(client.state(), State::Connecting);
        QTRY_VERIFY2(client.state() == State::Connected, qPrintable(client.stateReason()));
        QTRY_VERIFY(server.count(u"/admin/events"_s) >= 1);
        QCOMPARE(statsSpy.count(), 1);
        QCOMPARE(healthSpy.count(), 1);
        for (const Request &r : server.requests()) {
            QCOMPARE(r.method, QByteArray("GET"));
            QCOMPARE(r.authorization, QByteArray("Bearer t0ken"));
        }
        client.stop();
        QCOMPARE(client.state(), State::Disconnected);
    }

    void pathPrefixIsKept()
    {
        ScriptedServer server(healthyServer);
        AdminClient client;
        client.setServer(server.url(u"/relay/"_s), {});
        client.start();
        QTRY_COMPARE(client.state(), State::Connected);
        QCOMPARE(server.requests().constFirst().path(), u"/relay/health"_s);
        QVERIFY(server.requests().constFirst().authorization.isEmpty());
    }

    void drainingServer_data()
    {
        QTest::addColumn<int>("statsStatus");
        QTest::addRow("stats still answers") << 200;
        QTest::addRow("stats refused while draining") << 503;
    }

    void drainingServer()
    {
        QFETCH(int, statsStatus);
        ScriptedServer server([statsStatus](const Request &r) -> Response {
            if (r.path() == "/health"_L1)
                return {503, json(health(u"draining"_s))};
            if (r.path() == "/stats"_L1)
                return statsStatus == 200 ? Response{200, json(stats(u"draining"_s))}
                                          : Response{503, R"({"error":{"code":"draining","message":"x"}})"};
            return healthyServer(r);
        });
        AdminClient client;
        client.setServer(server.url(), u"t"_s);
        client.start();
        QTRY_COMPARE(client.state(), State::Draining);
        QVERIFY(client.isLive());
        QCOMPARE(client.lastHealth()->status, u"draining"_s);
    }

    void notAMedrelayServer()
    {
        ScriptedServer server([](const Request &) {
            return Response{200, "<html><body>Welcome</body></html>", "text/html"};
        });
        AdminClient client;
        QSignalSpy retries(&client, &AdminClient::retryScheduled);
        client.setBackoffLimits(50ms, 100ms);
        client.setServer(server.url(), u"t"_s);
        client.start();
        QTRY_COMPARE(client.state(), State::Unreachable);
        QVERIFY2(client.stateReason().contains(u"medrelay"_s), qPrintable(client.stateReason()));
        QTRY_VERIFY(retries.count() >= 2); // keeps trying, with backoff
    }

    void silentServerTimesOut()
    {
        ScriptedServer server([](const Request &) { return Response{200, {}, {}, true}; });
        AdminClient client;
        client.setRequestTimeout(300ms);
        client.setServer(server.url(), u"t"_s);
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), State::Unreachable, 3000);
        QVERIFY2(client.stateReason().contains(u"timed out"_s), qPrintable(client.stateReason()));
    }

    void unauthorisedStopsPolling()
    {
        ScriptedServer server([](const Request &r) -> Response {
            if (r.path() == "/stats"_L1)
                return {401, R"({"error":{"code":"unauthorized","message":"missing or wrong admin bearer token"}})"};
            return healthyServer(r);
        });
        AdminClient client;
        client.setPollInterval(100ms);
        client.setServer(server.url(), u"bad"_s);
        client.start();
        QTRY_COMPARE(client.state(), State::Unauthorised);
        QVERIFY(client.stateReason().contains(u"wrong admin bearer token"_s));
        const qsizetype asked = server.requests().size();
        QTest::qWait(500);
        QCOMPARE(server.requests().size(), asked);
    }

    void missingTokenIsNamedAsSuch()
    {
        ScriptedServer server([](const Request &r) -> Response {
            if (r.path() == "/stats"_L1)
                return {401, R"({"error":{"code":"unauthorized","message":"missing or wrong admin bearer token"}})"};
            return healthyServer(r);
        });
        AdminClient client;
        client.setServer(server.url(), {});
        client.start();
        QTRY_COMPARE(client.state(), State::Unauthorised);
        QVERIFY2(client.stateReason().startsWith(u"the server needs an admin token"_s), qPrintable(client.stateReason()));
        client.setServer(server.url(), u"wrong"_s);
        client.start();
        QTRY_COMPARE(client.state(), State::Unauthorised);
        QVERIFY2(client.stateReason().startsWith(u"the server refused the admin token"_s),
                 qPrintable(client.stateReason()));
    }

    void connectionCapWhenReported_data()
    {
        QTest::addColumn<QJsonValue>("cap");
        QTest::addColumn<int>("expected"); // 0: none
        QTest::addRow("not reported") << QJsonValue() << 0;
        QTest::addRow("reported") << QJsonValue(20000) << 20000;
        QTest::addRow("nonsense") << QJsonValue(u"many"_s) << 0;
        QTest::addRow("zero") << QJsonValue(0) << 0;
    }

    void connectionCapWhenReported()
    {
        QFETCH(QJsonValue, cap);
        QFETCH(int, expected);
        ScriptedServer server([cap](const Request &r) -> Response {
            if (r.path() == "/stats"_L1) {
                QJsonObject o = stats();
                if (!cap.isUndefined() && !cap.isNull())
                    o.insert(u"maxConnections"_s, cap);
                return {200, json(o)};
            }
            return healthyServer(r);
        });
        AdminClient client;
        QSignalSpy statsSpy(&client, &AdminClient::statsUpdated);
        client.setServer(server.url(), u"t"_s);
        client.start();
        QVERIFY(statsSpy.wait());
        QCOMPARE(client.lastConnectionCap().value_or(0), expected);
    }

    void pollsNeverOverlap()
    {
        // Each answer takes longer than the poll interval.
        ScriptedServer server([](const Request &r) {
            Response response = healthyServer(r);
            response.delayMs = 250;
            return response;
        });
        AdminClient client;
        client.setPollInterval(50ms);
        client.setServer(server.url(), u"t"_s);
        client.start();
        QTRY_VERIFY_WITH_TIMEOUT(server.count(u"/stats"_s) >= 3, 5000);
        QCOMPARE(server.maxInFlight(), 1);
        client.refreshNow(); // while one is in flight: queued, not doubled
        QTest::qWait(300);
        QCOMPARE(server.maxInFlight(), 1);
    }

    void eventCursorFollowsTheServer()
    {
        qint64 next = 1;
        QList<qint64> asked;
        ScriptedServer server([&](const Request &r) -> Response {
            if (r.path() != "/admin/events"_L1)
                return healthyServer(r);
            const qint64 since = r.query().queryItemValue(u"since"_s).toLongLong();
            asked.append(since);
            QJsonArray events;
            for (qint64 seq = std::max<qint64>(since, 1); seq < next; ++seq)
                events.append(QJsonObject{{u"seq"_s, static_cast<double>(seq)}, {u"kind"_s, u"join"_s},
                                          {u"timestamp"_s, u"2024-05-02T12:00:00.000Z"_s}});
            return {200, json({{u"nextSeq"_s, static_cast<double>(next)}, {u"events"_s, events}})};
        });
        AdminClient client;
        client.setPollInterval(50ms);
        QSignalSpy events(&client, &AdminClient::eventsReceived);
        QSignalSpy restarted(&client, &AdminClient::serverRestarted);
        client.setServer(server.url(), u"t"_s);
        next = 4; // events 1..3 exist before the console connects
        client.start();
        QTRY_COMPARE(events.count(), 1);
        QCOMPARE(events.at(0).at(0).value<QList<medrelay::adminapi::Event>>().size(), 3);
        QCOMPARE(asked.constFirst(), 0);
        next = 6;
        QTRY_COMPARE(events.count(), 2);
        QCOMPARE(events.at(1).at(0).value<QList<medrelay::adminapi::Event>>().constFirst().seq, 4);
        QTRY_VERIFY(asked.contains(6));
        // The server restarted: its numbering went back.
        next = 2;
        QTRY_VERIFY(restarted.count() >= 1);
        QTRY_VERIFY(asked.constLast() == 0 || asked.contains(0));
    }

    void noEventsEndpointIsNotAnError()
    {
        ScriptedServer server([](const Request &r) -> Response {
            if (r.path() == "/admin/events"_L1)
                return {404, R"({"error":{"code":"not_found","message":"no"}})"};
            return healthyServer(r);
        });
        AdminClient client;
        client.setPollInterval(50ms);
        client.setServer(server.url(), u"t"_s);
        client.start();
        QTRY_VERIFY(server.count(u"/stats"_s) >= 3);
        QCOMPARE(client.state(), State::Connected);
        QCOMPARE(server.count(u"/admin/events"_s), 1);
    }

    void actionsPostTypedBodies()
    {
        ScriptedServer server([](const Request &r) -> Response {
            if (r.method == "POST") {
                if (r.path().startsWith("/admin/rooms/missing"_L1))
                    return {404, json({{u"ok"_s, false}, {u"action"_s, u"close_room"_s},
                                       {u"message"_s, u"no such room"_s}})};
                return {200, json({{u"ok"_s, true}, {u"action"_s, u"x"_s}, {u"rooms"_s, QJsonArray{u"r"_s}}})};
            }
            return healthyServer(r);
        });
        AdminClient client;
        client.setServer(server.url(), u"t"_s);
        QSignalSpy finished(&client, &AdminClient::actionFinished);
        client.closeRoom(u"a b/c"_s, u"why"_s);
        client.closeIdleRooms(120, u"idle"_s, true);
        client.disconnectConnection(u"c-1"_s, u"bye"_s);
        client.closeRoom(u"missing"_s, {});
        QTRY_COMPARE(finished.count(), 4);
        QList<Request> posts;
        for (const Request &r : server.requests())
            if (r.method == "POST")
                posts.append(r);
        QCOMPARE(posts.size(), 4);
        QCOMPARE(posts.at(0).target, QByteArray("/admin/rooms/a%20b%2Fc/close"));
        QCOMPARE(QJsonDocument::fromJson(posts.at(0).body).object().value("reason"_L1).toString(), u"why"_s);
        QCOMPARE(posts.at(1).target, QByteArray("/admin/rooms/close-idle"));
        const QJsonObject idle = QJsonDocument::fromJson(posts.at(1).body).object();
        QCOMPARE(idle.value("idleSeconds"_L1).toInt(), 120);
        QCOMPARE(idle.value("dryRun"_L1).toBool(), true);
        QCOMPARE(posts.at(2).target, QByteArray("/admin/connections/c-1/disconnect"));
        QCOMPARE(posts.at(2).authorization, QByteArray("Bearer t"));

        QList<AdminClient::Action> actions;
        bool sawFailure = false;
        for (const auto &args : finished) {
            actions.append(args.at(0).value<AdminClient::Action>());
            const auto result = args.at(1).value<ActionResult>();
            if (!result.ok) {
                sawFailure = true;
                QCOMPARE(result.message, u"no such room"_s);
            }
        }
        QVERIFY(sawFailure);
        QVERIFY(actions.contains(AdminClient::Action::CloseIdleRoomsDryRun));
    }

    void actionAgainstNothingFailsCleanly()
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        AdminClient client;
        client.setServer(QUrl(u"http://127.0.0.1:%1"_s.arg(port)), u"t"_s);
        QSignalSpy finished(&client, &AdminClient::actionFinished);
        client.closeRoom(u"r"_s, {});
        QTRY_COMPARE(finished.count(), 1);
        const auto result = finished.at(0).at(1).value<ActionResult>();
        QVERIFY(!result.ok);
        QVERIFY(!result.message.isEmpty());
    }

    void rejectsNonHttpUrls()
    {
        AdminClient client;
        client.setServer(QUrl(u"ws://127.0.0.1:9003"_s), {});
        client.start();
        QCOMPARE(client.state(), State::Unreachable);
        QVERIFY(client.stateReason().contains(u"http"_s));
    }
};

QTEST_GUILESS_MAIN(TestAdminClient)
#include "tst_adminclient.moc"
