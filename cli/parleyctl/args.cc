#include "cli/parleyctl/args.h"

#include <algorithm>

namespace parley::cli {

// Flags that never take a value, so "--wait NUM" does not eat the number.
static bool IsBooleanFlag(const std::string& name) {
  static const std::vector<std::string> kBooleans = {
      "wait", "help", "h", "verbose", "all-versions", "global", "yes", "audio", "dry-run", "alive"};
  return std::find(kBooleans.begin(), kBooleans.end(), name) != kBooleans.end();
}

Args Args::Parse(int argc, char** argv) {
  std::vector<std::string> v;
  for (int i = 1; i < argc; ++i) v.emplace_back(argv[i]);
  return FromVector(std::move(v));
}

Args Args::FromVector(std::vector<std::string> argv) {
  Args args;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (flags_done || a.size() < 2 || a[0] != '-' || (a[1] != '-' && !std::isalpha(a[1]))) {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      args.flags_[name.substr(0, eq)] = name.substr(eq + 1);
    } else if (!IsBooleanFlag(name) && i + 1 < argv.size() &&
               (argv[i + 1].empty() || argv[i + 1][0] != '-' || argv[i + 1].size() == 1 ||
                std::isdigit(argv[i + 1][1]) || argv[i + 1][1] == ' ')) {
      args.flags_[name] = argv[++i];
    } else {
      args.flags_[name] = "true";
    }
  }
  return args;
}

std::string Args::Positional(size_t i) const {
  return i < positional_.size() ? positional_[i] : "";
}

std::string Args::ShortFlag(const std::string& short_name, const std::string& long_name,
                            const std::string& fallback) const {
  if (auto it = flags_.find(long_name); it != flags_.end()) return it->second;
  if (!short_name.empty()) {
    if (auto it = flags_.find(short_name); it != flags_.end()) return it->second;
  }
  return fallback;
}

bool Args::Bool(const std::string& long_name) const {
  auto it = flags_.find(long_name);
  return it != flags_.end() && it->second != "false" && it->second != "0";
}

std::vector<std::string> Args::Unknown(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : flags_) {
    if (std::find(known.begin(), known.end(), name) == known.end()) out.push_back(name);
  }
  return out;
}

}  // namespace parley::cli
