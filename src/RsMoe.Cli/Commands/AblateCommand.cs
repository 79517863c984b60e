using System.CommandLine;
using RsMoe.Training;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe ablate</c>: the paper's ablations at small scale, written as a table.</summary>
public static class AblateCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "Synthetic benchmark folder" };
        var realData = new Option<DirectoryInfo?>("--real-data") { Description = "Shared data folder: the ablations on real imagery instead" };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "Runs go here, with ablations.md and ablations.json" };
        var testImages = new Option<int>("--test-images") { DefaultValueFactory = _ => 60 };
        var command = new Command("ablate", "Number of experts 1-4 and one- against two-stage training, scored on the test split") { data, realData, output, testImages };
        command.SetAction(parse =>
        {
            Directory.CreateDirectory(parse.GetValue(output)!.FullName);
            if (parse.GetValue(realData) is { } shared)
                AblationRunner.RunReal(shared.FullName, parse.GetValue(output)!.FullName, Path.GetFullPath("runs/feature-cache"), parse.GetValue(testImages), Console.Error.WriteLine);
            else if (parse.GetValue(data) is { } synthetic)
                AblationRunner.Run(synthetic.FullName, parse.GetValue(output)!.FullName, parse.GetValue(testImages), Console.Error.WriteLine);
            else return CliErrors.Report(new ArgumentException("give --data (synthetic benchmark) or --real-data (shared data folder)"), false);
            Console.WriteLine(File.ReadAllText(Path.Combine(parse.GetValue(output)!.FullName, "ablations.md")));
            return 0;
        });
        return command;
    }
}
