// Command-line arguments for parleyctl: positionals and flags in any order, kubectl-style.
//
//   Args args = Args::Parse(argc, argv);   // parleyctl get agent payment-reminder -o json
//   args.positional()  → {"get", "agent", "payment-reminder"}
//   args.ShortFlag("o", "output", "table") → "json"
//
// Flags: --name=value, --name value, -x value; a flag followed by another flag or nothing is a
// boolean ("true"). "--" ends flags.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace parley::cli {

class Args final {
 public:
  static Args Parse(int argc, char** argv);
  static Args FromVector(std::vector<std::string> argv);  // argv without the program name

  const std::vector<std::string>& positional() const { return positional_; }
  // Positional `i`, or "" when absent.
  std::string Positional(size_t i) const;
  // Value of --long (or -short when given), else `fallback`.
  std::string ShortFlag(const std::string& short_name, const std::string& long_name,
                        const std::string& fallback = "") const;
  // Value of --long_name, else `fallback`.
  std::string Flag(const std::string& long_name, const std::string& fallback = "") const {
    return ShortFlag("", long_name, fallback);
  }
  bool Has(const std::string& long_name) const { return flags_.contains(long_name); }
  bool Bool(const std::string& long_name) const;
  // Flags not in `known` (for "unknown flag" errors).
  std::vector<std::string> Unknown(const std::vector<std::string>& known) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> flags_;
};

}  // namespace parley::cli
