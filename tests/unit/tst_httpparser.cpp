// The bounded HTTP request head parser.

#include "http/HttpRequestParser.h"

#include <QTest>

using namespace medrelay::server;
using namespace Qt::StringLiterals;

class TestHttpParser final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parsesUpgrade();
    void parsesQueryAndHeaders();
    void refuses_data();
    void refuses();
    void headEnd();
};

void TestHttpParser::parsesUpgrade()
{
    const QByteArray head = "GET /ws?access_token=abc%2Bd HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
                            "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n";
    const auto r = parseRequestHead(head, {});
    QVERIFY(std::holds_alternative<HttpRequest>(r));
    const auto &req = std::get<HttpRequest>(r);
    QCOMPARE(req.method, "GET");
    QCOMPARE(req.path, u"/ws"_s);
    QVERIFY(req.upgrade);
    QCOMPARE(req.query.queryItemValue(u"access_token"_s, QUrl::FullyDecoded), u"abc+d"_s);
    QCOMPARE(req.headBytes, head.size());
}

void TestHttpParser::parsesQueryAndHeaders()
{
    const auto r = parseRequestHead("POST /admin/events?since=5 HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 3\r\n\r\n", {});
    const auto &req = std::get<HttpRequest>(r);
    QCOMPARE(req.header("x-a"), "1, 2");
    QCOMPARE(req.contentLength, 3);
    QVERIFY(!req.upgrade);
    QCOMPARE(req.query.queryItemValue(u"since"_s), u"5"_s);
}

void TestHttpParser::refuses_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<int>("status");
    QTest::addRow("garbage") << QByteArray("\x01\x02\r\n\r\n") << 400;
    QTest::addRow("bad version") << QByteArray("GET / HTTP/9.9\r\n\r\n") << 505;
    QTest::addRow("http 0.9 style") << QByteArray("GET /\r\n\r\n") << 505;
    QTest::addRow("connect") << QByteArray("CONNECT a:443 HTTP/1.1\r\n\r\n") << 405;
    QTest::addRow("long target") << ("GET /" + QByteArray(5000, 'a') + " HTTP/1.1\r\n\r\n") << 414;
    QTest::addRow("too large") << ("GET / HTTP/1.1\r\nX: " + QByteArray(9000, 'a') + "\r\n\r\n") << 431;
    QByteArray many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 70; ++i)
        many += "H" + QByteArray::number(i) + ": v\r\n";
    QTest::addRow("many headers") << (many + "\r\n") << 431;
    QTest::addRow("bad header") << QByteArray("GET / HTTP/1.1\r\nNo colon here\r\n\r\n") << 400;
}

void TestHttpParser::refuses()
{
    QFETCH(QByteArray, head);
    QFETCH(int, status);
    const auto r = parseRequestHead(head, {});
    QVERIFY(std::holds_alternative<HttpParseError>(r));
    QCOMPARE(std::get<HttpParseError>(r).status, status);
}

void TestHttpParser::headEnd()
{
    QCOMPARE(findHeadEnd("GET / HTTP/1.1\r\n"), -1);
    QCOMPARE(findHeadEnd("GET / HTTP/1.1\r\n\r\nbody"), 18);
}

QTEST_GUILESS_MAIN(TestHttpParser)
#include "tst_httpparser.moc"
