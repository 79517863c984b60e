using System.CommandLine;
using System.Text.Json;
using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe data aspects</c>: split a data set's captions by aspect and report the shares.</summary>
public static class DataCommands
{
    public static Command Create() => new("data", "Inspect caption data sets") { Aspects() };

    static Command Aspects()
    {
        var input = new Option<FileInfo>("--input") { Required = true, Description = "A caption file (RSICap, RSIEval, Karpathy)" };
        var examples = new Option<int>("--examples") { DefaultValueFactory = _ => 3, Description = "Example sentences per aspect" };
        var json = new Option<bool>("--json");
        var command = new Command("aspects", "Split captions into sentences labelled theme, objects or relationships") { input, examples, json };
        command.SetAction(parse =>
        {
            try
            {
                var dataset = DatasetReader.Read(parse.GetValue(input)!.FullName);
                var sentences = dataset.Images.SelectMany(i => i.Captions.Take(1)).SelectMany(AspectSplitter.Split).ToList();
                var shares = sentences.GroupBy(s => s.Aspect).OrderBy(g => g.Key)
                    .ToDictionary(g => g.Key, g => new { sentences = g.Count(), share = g.Count() / (double)sentences.Count, examples = g.Take(parse.GetValue(examples)).Select(s => s.Text).ToList() });
                if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(new { dataset = dataset.Name, images = dataset.Images.Count, sentences = sentences.Count, aspects = shares }));
                else
                {
                    Console.WriteLine($"{dataset.Name}: {dataset.Images.Count} captions, {sentences.Count} sentences");
                    foreach (var (aspect, info) in shares)
                    {
                        Console.WriteLine($"{aspect,-14} {info.sentences,6} sentences  {info.share * 100,5:F1}%");
                        foreach (var e in info.examples) Console.WriteLine($"    {e}");
                    }
                }
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
            {
                return CliErrors.Report(e, parse.GetValue(json));
            }
        });
        return command;
    }
}
