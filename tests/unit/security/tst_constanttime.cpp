// constantTimeEquals: the same answers as operator==, for equal and unequal
// lengths, empty inputs and inputs that differ only in the last byte.

#include "security/ConstantTime.h"

#include <QTest>

using medrelay::security::constantTimeEquals;

class TestConstantTime final : public QObject
{
    Q_OBJECT

private slots:
    void compare_data();
    void compare();
    void embeddedNul();
};

void TestConstantTime::compare_data()
{
    QTest::addColumn<QByteArray>("a");
    QTest::addColumn<QByteArray>("b");
    QTest::addColumn<bool>("equal");
    const QByteArray token = "s3cr3t-admin-token-0123456789";
    QTest::addRow("same") << token << token << true;
    QTest::addRow("last byte differs") << token << QByteArray(token).replace(token.size() - 1, 1, "X") << false;
    QTest::addRow("first byte differs") << token << QByteArray(token).replace(0, 1, "X") << false;
    QTest::addRow("prefix") << token << token.first(10) << false;
    QTest::addRow("longer") << token << token + "0" << false;
    QTest::addRow("empty vs token") << QByteArray() << token << false;
    QTest::addRow("both empty") << QByteArray() << QByteArray() << true;
    QTest::addRow("case differs") << QByteArray("Bearer") << QByteArray("bearer") << false;
}

void TestConstantTime::compare()
{
    QFETCH(QByteArray, a);
    QFETCH(QByteArray, b);
    QFETCH(bool, equal);
    QCOMPARE(constantTimeEquals(a, b), equal);
    QCOMPARE(constantTimeEquals(b, a), equal);
}

void TestConstantTime::embeddedNul()
{
    const QByteArray a("abc\0def", 7);
    const QByteArray b("abc\0xyz", 7);
    QVERIFY(!constantTimeEquals(a, b));
    QVERIFY(constantTimeEquals(a, QByteArray("abc\0def", 7)));
}

QTEST_GUILESS_MAIN(TestConstantTime)
#include "tst_constanttime.moc"
