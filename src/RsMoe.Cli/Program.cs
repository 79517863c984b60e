return RsMoe.Cli.CliApp.Run(args);
