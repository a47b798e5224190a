using Engine.Cli;

return CliApp.Run(args);
