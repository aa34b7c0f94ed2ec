// TurnCredentials: the user name and password a TURN server with a shared
// secret (coturn use-auth-secret) accepts. The expected passwords were
// computed independently with OpenSSL's command line:
//   printf '%s' "1700000000:202" | openssl dgst -sha1 -hmac "north-wing-turn-secret-2024" -binary | base64

#include "ice/TurnCredentials.h"

#include <QMessageAuthenticationCode>
#include <QTest>

using namespace medrelay::server::ice;
using namespace Qt::StringLiterals;

class TestTurnCredentials final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void knownAnswers_data()
    {
        QTest::addColumn<QByteArray>("secret");
        QTest::addColumn<QByteArray>("username");
        QTest::addColumn<QByteArray>("password");
        QTest::addRow("numeric user") << "north-wing-turn-secret-2024"_ba << "1700000000:202"_ba
                                      << "njG3FqrDrnrCBILokjjLBh0eTUY="_ba;
        QTest::addRow("user with punctuation") << "north-wing-turn-secret-2024"_ba << "1700003600:dr.ada@clinic"_ba
                                               << "3LpzWHAT8+SMZxexOEXoGjDVNt0="_ba;
        QTest::addRow("empty secret") << QByteArray() << "42:x"_ba << "UhQXsagT5W/yfF3LbQ95EvGN0jA="_ba;
    }

    void knownAnswers()
    {
        QFETCH(QByteArray, secret);
        QFETCH(QByteArray, username);
        QFETCH(QByteArray, password);
        QCOMPARE(TurnCredentials::password(secret, username), password);
    }

    void issueNamesExpiryAndUser()
    {
        const TurnCredentials maker("north-wing-turn-secret-2024", 3600);
        const TurnCredential c = maker.issue(u"202"_s, 1699996400);
        QCOMPARE(c.expiresAtSeconds, 1700000000);
        QCOMPARE(c.username, u"1700000000:202"_s);
        QCOMPARE(c.password, u"njG3FqrDrnrCBILokjjLBh0eTUY="_s);
    }

    // The same construction through another implementation (Qt's), over
    // many names: not only the three known answers.
    void agreesWithAnotherHmac()
    {
        const QByteArray secret = "0123456789abcdef0123456789abcdef";
        const TurnCredentials maker(secret, 600);
        for (int i = 0; i < 200; ++i) {
            const TurnCredential c = maker.issue(u"user-%1"_s.arg(i), 1700000000 + i * 37);
            const QByteArray expected =
                QMessageAuthenticationCode::hash(c.username.toUtf8(), secret, QCryptographicHash::Sha1).toBase64();
            QCOMPARE(c.password.toLatin1(), expected);
            QCOMPARE(c.expiresAtSeconds, 1700000000 + i * 37 + 600);
        }
    }

    void anotherSecretAnotherPassword()
    {
        const TurnCredential a = TurnCredentials("secret-one-0123456789", 60).issue(u"u"_s, 1000);
        const TurnCredential b = TurnCredentials("secret-two-0123456789", 60).issue(u"u"_s, 1000);
        QCOMPARE(a.username, b.username);
        QVERIFY(a.password != b.password);
    }
};

QTEST_GUILESS_MAIN(TestTurnCredentials)
#include "tst_turncredentials.moc"
