#include "common/redis/redis_url.h"

#include "gtest/gtest.h"

namespace parley::redis {
namespace {

TEST(ParseRedisUrlTest, HostAndPort) {
  absl::StatusOr<RedisUrl> url = ParseRedisUrl("redis://redis.internal:6380");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "redis.internal");
  EXPECT_EQ(url->port, 6380);
  EXPECT_EQ(url->db, 0);
  EXPECT_EQ(url->password, "");
  EXPECT_EQ(url->username, "");
}

TEST(ParseRedisUrlTest, DefaultsPortAndDb) {
  absl::StatusOr<RedisUrl> url = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 6379);
  EXPECT_EQ(url->db, 0);
  url = ParseRedisUrl("redis://localhost/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->db, 0);
}

TEST(ParseRedisUrlTest, PasswordAndDb) {
  absl::StatusOr<RedisUrl> url = ParseRedisUrl("redis://:s3cret@127.0.0.1:6379/2");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->password, "s3cret");
  EXPECT_EQ(url->username, "");
  EXPECT_EQ(url->db, 2);
}

TEST(ParseRedisUrlTest, UsernameAndEscapedPassword) {
  absl::StatusOr<RedisUrl> url = ParseRedisUrl("redis://parley:p%40ss%3Aw%2Fd@redis:6379/15");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->username, "parley");
  EXPECT_EQ(url->password, "p@ss:w/d");
  EXPECT_EQ(url->host, "redis");
  EXPECT_EQ(url->db, 15);
}

TEST(ParseRedisUrlTest, Ipv6Host) {
  absl::StatusOr<RedisUrl> url = ParseRedisUrl("redis://[::1]:7000/1");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 7000);
  EXPECT_EQ(url->db, 1);
}

TEST(ParseRedisUrlTest, RejectsMalformed) {
  for (const char* bad : {
           "",
           "http://localhost:6379",
           "redis://",
           "redis://:6379",
           "redis://host:",
           "redis://host:0",
           "redis://host:65536",
           "redis://host:port",
           "redis://host:+80",
           "redis://host:6379/x",
           "redis://host:6379/-1",
           "redis://host:6379/+1",
           "redis://secret@host:6379",
           "redis://:bad%zzescape@host",
           "redis://host:6379?db=1",
           "redis://[::1",
           "redis://[::1]6379",
       }) {
    absl::StatusOr<RedisUrl> url = ParseRedisUrl(bad);
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << "url: " << bad;
  }
}

TEST(ParseRedisUrlTest, ErrorNamesTheProblem) {
  absl::StatusOr<RedisUrl> url = ParseRedisUrl("redis://host:99999");
  EXPECT_EQ(url.status().message(), "redis url: port must be 1..65535, got \"99999\"");
}

}  // namespace
}  // namespace parley::redis
