// parleyctl: see cli.h.
#include <iostream>

#include "cli/parleyctl/cli.h"
#include "common/log/log.h"

int main(int argc, char** argv) {
  // Library code logs; the CLI only shows its own one-line errors unless asked.
  parley::log::Init({.service = "parleyctl", .level = parley::log::Level::kError});
  std::vector<std::string> args(argv + 1, argv + argc);
  return parley::cli::Run(std::move(args), std::cout, std::cerr);
}
