/* SPDX-License-Identifier: MIT */
/* build/lapis-conformance: the runner on its own (`lapis conformance` is the same code). */
#include "runner/runner.h"

int main(int argc, char **argv)
{
    return lapis_conformance_main(argc, argv);
}
