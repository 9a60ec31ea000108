import Foundation
import Space
import Trainer

BLASKernel.ensureBestKernel()
exit(CLI.main(Array(CommandLine.arguments.dropFirst())))
