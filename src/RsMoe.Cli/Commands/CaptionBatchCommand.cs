using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using RsMoe.Captions;
using RsMoe.Cli.Batch;
using RsMoe.Data.Images;
using RsMoe.Model.Decoding;
using Spectre.Console;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe caption-batch DIR|LIST --out results.jsonl</c>: captions every image of an archive, in this process or
/// through a gateway (<c>--gateway</c>, several at once), one JSON line per image (caption, sections, theme, timings;
/// or the error of a file that could not be read), resumable: a rerun with the same <c>--out</c> skips what is there. A bad file is reported and skipped; Ctrl-C stops after the
/// images in flight.
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
        var gateway = new Option<string?>("--gateway") { Description = "Caption through a running gateway (its gRPC URL, e.g. http://127.0.0.1:5081) instead of loading the model here" };
        var apiKey = GatewayCommands.ApiKeyOption();
        var concurrency = new Option<int>("--concurrency") { DefaultValueFactory = _ => 2, Description = "Images in flight at once through a gateway (in this process: one at a time); 2 gave the best rate on a 2-core constellation (docs/benchmarks/archives-and-scenes.md)" };
        var command = new Command("caption-batch", "Caption every image of a folder or list into JSON Lines, resumably")
            { input, output, model, instruction, limit, weights, gateway, apiKey, concurrency };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(input)!, parse.GetValue(output)!.FullName, parse.GetValue(model)?.FullName,
            parse.GetValue(instruction)!, parse.GetValue(limit), parse.GetValue(weights)!, parse.GetValue(gateway), parse.GetValue(apiKey),
            parse.GetValue(concurrency), cancellationToken));
        return command;
    }

    static async Task<int> RunAsync(string input, string output, string? modelDirectory, string instruction, int limit, string weights,
        string? gateway, string? apiKey, int concurrency, CancellationToken cancellationToken)
    {
        IReadOnlyList<ArchiveImage> images;
        ResultsFile results;
        IBatchCaptioner captioner;
        var owned = new List<IDisposable>();
        try
        {
            if (limit < 0) throw new ArgumentException("--limit must be 0 (all) or more");
            if (concurrency < 1) throw new ArgumentException("--concurrency must be 1 or more");
            DecodeWeightFormats.Parse(weights);   // a wrong name is refused before anything is read or written
            images = ArchiveInputs.Enumerate(input);
            results = ResultsFile.Open(output);
            owned.Add(results);
            if (gateway is not null)
            {
                var channel = GatewayCommands.Channel(gateway);
                owned.Add(channel);
                captioner = new GatewayBatchCaptioner(new RsMoe.Contracts.V1.Captioner.CaptionerClient(channel), GatewayCommands.Headers(apiKey), TimeSpan.FromMinutes(2));
            }
            else
            {
                var (model, backbone) = LocalInferenceCommands.LoadForInference(modelDirectory, weights);
                owned.Add(model);
                owned.Add(backbone);
                captioner = new InProcessBatchCaptioner(model, backbone);
                concurrency = 1;
            }
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or UriFormatException)
        {
            owned.ForEach(o => o.Dispose());
            return CliErrors.Report(e, asJson: false);
        }
        try
        {
            return await CaptionAllAsync(input, output, images, results, captioner, instruction, limit, concurrency, cancellationToken);
        }
        finally
        {
            owned.ForEach(o => o.Dispose());
        }
    }

    static async Task<int> CaptionAllAsync(string input, string output, IReadOnlyList<ArchiveImage> images, ResultsFile results, IBatchCaptioner captioner,
        string instruction, int limit, int concurrency, CancellationToken cancellationToken)
    {
        var todo = images.Where(image => !results.Done.Contains(image.Key)).Take(limit > 0 ? limit : int.MaxValue).ToList();
        Console.WriteLine($"{images.Count} images in {input}; {images.Count(i => results.Done.Contains(i.Key))} already in {output}; {todo.Count} to caption, {concurrency} at a time");

        var failures = new ConcurrentQueue<string>();
        var encodeMs = new ConcurrentQueue<double>();
        var captionMs = new ConcurrentQueue<double>();
        var clock = Stopwatch.StartNew();
        int captioned = 0, finished = 0;
        string? stopped = null;
        await AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask("captioning", maxValue: Math.Max(1, todo.Count));
                try
                {
                    // A stop lets the images in flight finish and starts no new one; what finished is in the file.
                    await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (image, _) =>
                    {
                        try
                        {
                            var caption = await captioner.CaptionAsync(await File.ReadAllBytesAsync(image.Path, CancellationToken.None), instruction, CancellationToken.None);
                            results.Write(new
                            {
                                image = image.Key,
                                caption = caption.Caption,
                                sections = caption.Sections.Select(s => new { aspect = s.Aspect, text = s.Text }),
                                theme = caption.Sections.FirstOrDefault(s => s.Aspect == CaptionPolicy.Theme)?.Text,
                                timings_ms = new { encode = Math.Round(caption.EncodeMs, 1), caption = Math.Round(caption.CaptionMs, 1) },
                            });
                            encodeMs.Enqueue(caption.EncodeMs);
                            captionMs.Enqueue(caption.CaptionMs);
                            Interlocked.Increment(ref captioned);
                        }
                        catch (Exception e) when (e is ImageRejectedException or IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException
                                                   or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.InvalidArgument or Grpc.Core.StatusCode.ResourceExhausted or Grpc.Core.StatusCode.FailedPrecondition })
                        {
                            string message = e is Grpc.Core.RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message;
                            results.Write(new { image = image.Key, error = message });
                            failures.Enqueue($"{image.Key}: {message}");
                        }
                        int done = Interlocked.Increment(ref finished);
                        task.Increment(1);
                        task.Description = $"{done}/{todo.Count} · {done / clock.Elapsed.TotalSeconds:F2} images/s";
                    });
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
                catch (Grpc.Core.RpcException e)
                {
                    // The gateway itself failed (down, overloaded, timed out): stop rather than mark every image failed.
                    stopped = $"{e.StatusCode}: {e.Status.Detail}";
                }
            });
        if (stopped is not null)
        {
            Console.Error.WriteLine($"error: the gateway failed ({stopped}); {finished} of {todo.Count} images are in {output}: run the same command again to go on");
            return 2;
        }

        foreach (var failure in failures) Console.Error.WriteLine($"skipped {failure}");
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"captioned {captioned}, failed {failures.Count} in {seconds:F1} s: {captioned / Math.Max(seconds, 1e-9):F2} images/s " +
            $"(median encode {Median(encodeMs):F0} ms, caption {Median(captionMs):F0} ms; {concurrency} at a time); results in {output}");
        if (cancellationToken.IsCancellationRequested && finished < todo.Count)
            Console.WriteLine("interrupted: run the same command again to go on where it stopped");
        return todo.Count > 0 && captioned == 0 && !failures.IsEmpty ? 2 : 0;
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }
}
