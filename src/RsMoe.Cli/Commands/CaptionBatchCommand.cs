using System.CommandLine;
using System.Diagnostics;
using RsMoe.Captions;
using RsMoe.Cli.Batch;
using RsMoe.Data.Images;
using RsMoe.Model.Decoding;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using Spectre.Console;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe caption-batch DIR|LIST --out results.jsonl</c>: captions every image of an archive in this process, one JSON
/// line per image (caption, sections, theme, timings; or the error of a file that could not be read), resumable: a
/// rerun with the same <c>--out</c> skips what is there. A bad file is reported and skipped; Ctrl-C stops after the
/// image in progress.
/// </summary>
public static class CaptionBatchCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "A folder (every PNG, JPEG or TIFF below it) or a list file (one image path a line, relative to the list)" };
        var output = new Option<FileInfo>("--out") { Required = true, Description = "JSON Lines results; an existing file is resumed: the images already in it are skipped" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var instruction = new Option<string>("--instruction") { DefaultValueFactory = _ => CaptionPolicy.Instruction };
        var limit = new Option<int>("--limit") { Description = "Caption at most this many images not yet in the results (0: all)" };
        var weights = LocalInferenceCommands.WeightsOption();
        var command = new Command("caption-batch", "Caption every image of a folder or list into JSON Lines, resumably") { input, output, model, instruction, limit, weights };
        command.SetAction((parse, cancellationToken) => Task.FromResult(Run(parse.GetValue(input)!, parse.GetValue(output)!.FullName, parse.GetValue(model)?.FullName,
            parse.GetValue(instruction)!, parse.GetValue(limit), parse.GetValue(weights)!, cancellationToken)));
        return command;
    }

    static int Run(string input, string output, string? modelDirectory, string instruction, int limit, string weights, CancellationToken cancellationToken)
    {
        IReadOnlyList<ArchiveImage> images;
        ResultsFile results;
        RsMoeModel model;
        ImageBackbone backbone;
        try
        {
            if (limit < 0) throw new ArgumentException("--limit must be 0 (all) or more");
            DecodeWeightFormats.Parse(weights);   // a wrong name is refused before anything is read or written
            images = ArchiveInputs.Enumerate(input);
            results = ResultsFile.Open(output);
            (model, backbone) = LocalInferenceCommands.LoadForInference(modelDirectory, weights);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return CliErrors.Report(e, asJson: false);
        }
        using var _ = results;
        using var __ = model;
        using var ___ = backbone;
        var todo = images.Where(image => !results.Done.Contains(image.Key)).Take(limit > 0 ? limit : int.MaxValue).ToList();
        Console.WriteLine($"{images.Count} images in {input}; {images.Count(i => results.Done.Contains(i.Key))} already in {output}; {todo.Count} to caption");

        var failures = new List<string>();
        var encodeMs = new List<double>();
        var captionMs = new List<double>();
        var clock = Stopwatch.StartNew();
        int captioned = 0;
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(progress =>
            {
                var task = progress.AddTask("captioning", maxValue: Math.Max(1, todo.Count));
                foreach (var image in todo)
                {
                    if (cancellationToken.IsCancellationRequested) break;
                    var step = Stopwatch.StartNew();
                    try
                    {
                        using var tokens = backbone.Encode(File.ReadAllBytes(image.Path));
                        double encoded = step.Elapsed.TotalMilliseconds;
                        var caption = model.Caption(tokens, instruction);
                        double written = step.Elapsed.TotalMilliseconds - encoded;
                        results.Write(new
                        {
                            image = image.Key,
                            caption = caption.Caption,
                            sections = caption.Sections.Select(s => new { aspect = s.Aspect, text = s.Text }),
                            theme = caption.Sections.FirstOrDefault(s => s.Aspect == CaptionPolicy.Theme)?.Text,
                            timings_ms = new { encode = Math.Round(encoded, 1), caption = Math.Round(written, 1) },
                        });
                        encodeMs.Add(encoded);
                        captionMs.Add(written);
                        captioned++;
                    }
                    catch (Exception e) when (e is ImageRejectedException or IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
                    {
                        results.Write(new { image = image.Key, error = e.Message });
                        failures.Add($"{image.Key}: {e.Message}");
                    }
                    task.Increment(1);
                    task.Description = $"{captioned + failures.Count}/{todo.Count} · {(captioned + failures.Count) / clock.Elapsed.TotalSeconds:F2} images/s";
                }
            });

        foreach (var failure in failures) Console.Error.WriteLine($"skipped {failure}");
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"captioned {captioned}, failed {failures.Count} in {seconds:F1} s: {captioned / Math.Max(seconds, 1e-9):F2} images/s " +
            $"(median encode {Median(encodeMs):F0} ms, caption {Median(captionMs):F0} ms); results in {output}");
        if (cancellationToken.IsCancellationRequested && captioned + failures.Count < todo.Count)
            Console.WriteLine("interrupted: run the same command again to go on where it stopped");
        return todo.Count > 0 && captioned == 0 && failures.Count > 0 ? 2 : 0;
    }

    static double Median(List<double> values) => values.Count == 0 ? 0 : values.Order().ElementAt(values.Count / 2);
}
