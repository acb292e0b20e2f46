#include "cli/parleyctl/args.h"

#include <gtest/gtest.h>

namespace parley::cli {
namespace {

TEST(ArgsTest, PositionalsAndFlagsInAnyOrder) {
  Args a = Args::FromVector({"get", "-o", "json", "agent", "--filter=name=pay*", "payment"});
  EXPECT_EQ(a.positional(), (std::vector<std::string>{"get", "agent", "payment"}));
  EXPECT_EQ(a.ShortFlag("o", "output"), "json");
  EXPECT_EQ(a.Flag("filter"), "name=pay*");
  EXPECT_EQ(a.Flag("missing", "dflt"), "dflt");
}

TEST(ArgsTest, BooleanFlagsDoNotEatValues) {
  Args a = Args::FromVector({"call", "create", "--wait", "--to", "+14155552671", "--agent", "x"});
  EXPECT_TRUE(a.Bool("wait"));
  EXPECT_EQ(a.Flag("to"), "+14155552671");
  EXPECT_EQ(a.positional().size(), 2u);
}

TEST(ArgsTest, DoubleDashEndsFlagsAndUnknownFlagsAreListed) {
  Args a = Args::FromVector({"x", "--known", "1", "--bogus", "2", "--", "--not-a-flag"});
  EXPECT_EQ(a.Positional(1), "--not-a-flag");
  EXPECT_EQ(a.Unknown({"known"}), std::vector<std::string>{"bogus"});
}

}  // namespace
}  // namespace parley::cli
