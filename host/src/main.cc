// kbinder: the command line.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "kbinder/host/commands.h"
#include "kbinder/host/logging.h"

int main(int argc, char** argv) {
  return kbinder::host::runCommandLine(argc, argv, std::cout, std::cerr);
}
