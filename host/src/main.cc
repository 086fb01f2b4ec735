// kbinder: the command line.
#include <iostream>

#include "kbinder/host/commands.h"

int main(int argc, char** argv) {
  return kbinder::host::runCommandLine(argc, argv, std::cout, std::cerr);
}
