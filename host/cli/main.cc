// SPDX-License-Identifier: Apache-2.0
// kbinder: the command line.
#include <iostream>

#include "host/cli/commands.h"

int main(int argc, char** argv) {
  return kbinder::host::runCommandLine(argc, argv, std::cout, std::cerr);
}
