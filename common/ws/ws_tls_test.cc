// wss:// end to end: a loopback TLS WebSocket server with a certificate made for the test, trusted
// by the client through WsOptions.ca_file; and the same server refused when the client trusts only
// the system CAs (the certificate check is on).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/ws/ws_client.h"

namespace parley::ws {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed certificate for localhost / 127.0.0.1.
Pem MakeCertificate() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  X509* x509 = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), -60);
  X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
  X509_set_pubkey(x509, key);
  X509_NAME* name = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x509, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  X509_add_ext(x509, san, -1);
  X509_EXTENSION_free(san);
  X509_sign(x509, key, EVP_sha256());
  Pem pem;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x509);
  char* data;
  long len = BIO_get_mem_data(bio, &data);
  pem.cert.assign(data, len);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  len = BIO_get_mem_data(bio, &data);
  pem.key.assign(data, len);
  BIO_free(bio);
  X509_free(x509);
  EVP_PKEY_free(key);
  return pem;
}

// Serves `connections` TLS WebSocket connections, echoing each message with a "tls:" prefix.
class TlsEchoServer {
 public:
  TlsEchoServer(const Pem& pem, int connections)
      : ctx_(ssl::context::tls_server), acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    ctx_.use_certificate_chain(net::buffer(pem.cert));
    ctx_.use_private_key(net::buffer(pem.key), ssl::context::pem);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        tcp::socket socket(ioc_);
        beast::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec) return;
        websocket::stream<beast::ssl_stream<tcp::socket>> ws(std::move(socket), ctx_);
        ws.next_layer().handshake(ssl::stream_base::server, ec);
        if (ec) continue;  // the client refused our certificate
        ws.accept(ec);
        if (ec) continue;
        beast::flat_buffer buffer;
        for (;;) {
          ws.read(buffer, ec);
          if (ec) break;
          ws.text(true);
          ws.write(net::buffer("tls:" + beast::buffers_to_string(buffer.data())), ec);
          buffer.consume(buffer.size());
        }
      }
    });
  }
  ~TlsEchoServer() { thread_.join(); }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  net::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(WebSocketClientTls, TrustedCertificateCarriesMessages) {
  Pem pem = MakeCertificate();
  std::string ca_file = ::testing::TempDir() + "/ws_tls_test_ca.pem";
  std::ofstream(ca_file) << pem.cert;
  TlsEchoServer server(pem, 2);
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto ws = WebSocketClient::Connect(
        {.url = "wss://" + std::string(host) + ":" + std::to_string(server.port()) + "/x",
         .ca_file = ca_file});
    ASSERT_TRUE(ws.ok()) << host << ": " << ws.status();
    ASSERT_TRUE((*ws)->SendText("hello").ok());
    absl::StatusOr<WsMessage> reply = (*ws)->Read(absl::Seconds(10));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->data, "tls:hello");
    (*ws)->Close();
  }
}

TEST(WebSocketClientTls, UntrustedCertificateIsRefused) {
  Pem pem = MakeCertificate();
  TlsEchoServer server(pem, 1);
  auto ws =
      WebSocketClient::Connect({.url = "wss://localhost:" + std::to_string(server.port()) + "/x"});
  EXPECT_EQ(ws.status().code(), absl::StatusCode::kUnavailable) << ws.status();
  EXPECT_NE(ws.status().message().find("TLS handshake"), std::string::npos) << ws.status();
}

}  // namespace
}  // namespace parley::ws
