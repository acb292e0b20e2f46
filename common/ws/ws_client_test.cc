#include "common/ws/ws_client.h"

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "common/ws/testing/ws_test_server.h"

namespace parley::ws {
namespace {

using testing::WsServerConnection;
using testing::WsTestServer;

TEST(ParseWsUrl, SchemesPortsAndTargets) {
  absl::StatusOr<WsUrl> url = ParseWsUrl("wss://api.deepgram.com/v1/listen?x=1");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "api.deepgram.com");
  EXPECT_EQ(url->port, "443");
  EXPECT_EQ(url->target, "/v1/listen?x=1");
  url = ParseWsUrl("ws://whisper:9090");
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->port, "9090");
  EXPECT_EQ(url->target, "/");
  url = ParseWsUrl("https://api.cartesia.ai");
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(ParseWsUrl("ftp://x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseWsUrl("ws://").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UrlEncode, KeepsUnreservedEscapesTheRest) {
  EXPECT_EQ(UrlEncode("en-US"), "en-US");
  EXPECT_EQ(UrlEncode("a b&c"), "a%20b%26c");
}

TEST(WebSocketClient, SendsHeadersAndEchoes) {
  std::string auth;
  WsTestServer server([&](WsServerConnection& c) {
    auth = c.request().Header("authorization");
    if (!c.Accept()) return;
    while (auto m = c.Read()) {
      if (m->binary) {
        c.SendBinary(m->data);
      } else {
        c.SendText(m->data);
      }
    }
  });
  auto ws = WebSocketClient::Connect(
      {.url = server.url() + "/echo", .headers = {{"Authorization", "Token k"}}});
  ASSERT_TRUE(ws.ok()) << ws.status();
  ASSERT_TRUE((*ws)->SendText("hello").ok());
  ASSERT_TRUE((*ws)->SendBinary(std::string("\x01\x02", 2)).ok());
  absl::StatusOr<WsMessage> a = (*ws)->Read(absl::Seconds(5));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->binary);
  EXPECT_EQ(a->data, "hello");
  absl::StatusOr<WsMessage> b = (*ws)->Read(absl::Seconds(5));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->binary);
  EXPECT_EQ(b->data, std::string("\x01\x02", 2));
  EXPECT_EQ(auth, "Token k");
  (*ws)->Close();
  EXPECT_FALSE((*ws)->open());
}

TEST(WebSocketClient, RefusedUpgradeMapsTheHttpStatus) {
  WsTestServer server([](WsServerConnection& c) {
    c.Reject(c.request().path == "/busy" ? 429 : 401, R"({"err_msg":"bad key"})");
  });
  auto ws = WebSocketClient::Connect({.url = server.url() + "/x"});
  EXPECT_EQ(ws.status().code(), absl::StatusCode::kUnauthenticated) << ws.status();
  ws = WebSocketClient::Connect({.url = server.url() + "/busy"});
  EXPECT_EQ(ws.status().code(), absl::StatusCode::kResourceExhausted) << ws.status();
}

TEST(WebSocketClient, ConnectionRefusedIsUnavailable) {
  int port;
  {
    WsTestServer server([](WsServerConnection&) {});
    port = server.port();
  }
  auto ws = WebSocketClient::Connect({.url = "ws://127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(ws.status().code(), absl::StatusCode::kUnavailable) << ws.status();
}

TEST(WebSocketClient, ServerCloseCodeAndDropAreUnavailableAfterQueuedMessages) {
  WsTestServer server([](WsServerConnection& c) {
    if (!c.Accept()) return;
    c.SendText("last words");
    if (c.request().path == "/close") {
      c.Close(1011, "NET-0001");
    } else {
      c.Drop();
    }
  });
  for (const char* path : {"/close", "/drop"}) {
    auto ws = WebSocketClient::Connect({.url = server.url() + path});
    ASSERT_TRUE(ws.ok()) << ws.status();
    absl::StatusOr<WsMessage> m = (*ws)->Read(absl::Seconds(5));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->data, "last words");
    m = (*ws)->Read(absl::Seconds(5));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << path;
    if (std::string(path) == "/close") {
      EXPECT_NE(m.status().message().find("NET-0001"), std::string::npos) << m.status();
    }
    EXPECT_FALSE((*ws)->open());
    EXPECT_EQ((*ws)->SendText("x").code(), absl::StatusCode::kUnavailable);
  }
}

TEST(WebSocketClient, ReadTimesOutAndCancels) {
  absl::Notification done;
  WsTestServer server([&](WsServerConnection& c) {
    if (!c.Accept()) return;
    c.Read();  // until the client closes
  });
  auto ws = WebSocketClient::Connect({.url = server.url()});
  ASSERT_TRUE(ws.ok()) << ws.status();
  EXPECT_EQ((*ws)->Read(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  speech::CancelFlag cancel;
  cancel.Cancel();
  EXPECT_EQ((*ws)->Read(absl::Seconds(30), &cancel).status().code(), absl::StatusCode::kCancelled);
}

TEST(WebSocketClient, KeepaliveIsSentWhileIdle) {
  absl::Notification got;
  std::string seen;
  WsTestServer server([&](WsServerConnection& c) {
    if (!c.Accept()) return;
    if (auto m = c.Read()) {
      seen = m->data;
      got.Notify();
    }
    c.Read();
  });
  auto ws = WebSocketClient::Connect({.url = server.url(),
                                      .keepalive_text = R"({"type":"KeepAlive"})",
                                      .keepalive_interval = absl::Milliseconds(20)});
  ASSERT_TRUE(ws.ok()) << ws.status();
  ASSERT_TRUE(got.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(seen, R"({"type":"KeepAlive"})");
}

}  // namespace
}  // namespace parley::ws
