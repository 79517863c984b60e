using System.CommandLine;
using System.Text.Json;
using RsMoe.Data.Images;
using RsMoe.Model.Decoding;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe caption IMAGE</c> and <c>rsmoe ask IMAGE QUESTION</c> run the model in this process
/// (the embedded default unless <c>--model</c> names another folder), or ask a gateway with <c>--gateway URL</c>.
/// </summary>
public static class LocalInferenceCommands
{
    public static string DefaultModelDirectory() => ModelLocator.DefaultModelDirectory();

    /// <summary>
    /// Loads the model, encodes the image and hands both to <paramref name="use"/>; a missing model, a file that is
    /// not an image or a corrupt checkpoint becomes one error line (or JSON object) and exit code 2.
    /// </summary>
    static int WithModelAndImage(string? modelDirectory, string image, bool asJson, string weights, Action<RsMoeModel, Tensor> use)
    {
        try
        {
            var (model, backbone) = LoadForInference(modelDirectory, weights);
            using var _ = model;
            using var __ = backbone;
            using var tokens = backbone.Encode(File.ReadAllBytes(image));
            use(model, tokens);
            return 0;
        }
        catch (Exception e) when (e is ImageRejectedException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            return CliErrors.Report(e, asJson);
        }
    }

    /// <summary>
    /// The model as the in-process commands run it (caption, ask, caption-batch): one base and the experts' adapters in
    /// a bank (a third of the memory, and the sections decode together), the decode weights chosen, and its backbone.
    /// </summary>
    internal static (RsMoeModel Model, ImageBackbone Backbone) LoadForInference(string? modelDirectory, string weights)
    {
        var format = DecodeWeightFormats.Parse(weights);
        var model = ModelFolder.Load(modelDirectory ?? DefaultModelDirectory(), sharedBase: true);
        try
        {
            model.UseDecodeWeights(format);
            return (model, ImageBackbone.For(model.Config));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The weights the CPU decoder reads (one owner for caption, ask and eval).</summary>
    internal static Option<string> WeightsOption() => new("--weights")
    {
        Description = $"Decode weights: {DecodeWeightFormats.Names} (8-bit blocks quantised at load)", DefaultValueFactory = _ => "full",
    };

    static Option<string?> GatewayOption() => new("--gateway")
    {
        Description = "Ask a running gateway (its gRPC URL, e.g. http://127.0.0.1:5081) instead of loading the model here",
    };

    public static Command Caption()
    {
        var image = new Argument<FileInfo>("image") { Description = "PNG, JPEG or TIFF file" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var instruction = new Option<string>("--instruction") { DefaultValueFactory = _ => RsMoe.Captions.CaptionPolicy.Instruction };
        var json = new Option<bool>("--json");
        var gateway = GatewayOption();
        var apiKey = GatewayCommands.ApiKeyOption();
        var weights = WeightsOption();
        var command = new Command("caption", "Caption an image: each expert writes its section") { image, model, instruction, json, gateway, apiKey, weights };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(gateway) is { } url)
                return GatewayCommands.CaptionAsync(url, parse.GetValue(image)!.FullName, parse.GetValue(instruction), asJson, TimeSpan.FromMinutes(2), parse.GetValue(apiKey)).GetAwaiter().GetResult();
            return WithModelAndImage(parse.GetValue(model)?.FullName, parse.GetValue(image)!.FullName, asJson, parse.GetValue(weights)!, (m, tokens) =>
            {
                var result = m.Caption(tokens, parse.GetValue(instruction)!);
                if (asJson)
                    Console.WriteLine(JsonSerializer.Serialize(new { caption = result.Caption, sections = result.Sections.Select(s => new { aspect = s.Aspect, expert = s.Expert, text = s.Text }), gate = result.Gate }));
                else
                {
                    foreach (var s in result.Sections) Console.WriteLine($"[{s.Aspect}] {s.Text}");
                    Console.WriteLine();
                    Console.WriteLine(result.Caption);
                }
            });
        });
        return command;
    }

    public static Command Ask()
    {
        var image = new Argument<FileInfo>("image");
        var question = new Argument<string>("question");
        var model = new Option<DirectoryInfo?>("--model");
        var json = new Option<bool>("--json");
        var gateway = GatewayOption();
        var apiKey = GatewayCommands.ApiKeyOption();
        var weights = WeightsOption();
        var command = new Command("ask", "Answer a question about an image with the top-gated expert") { image, question, model, json, gateway, apiKey, weights };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(gateway) is { } url)
                return GatewayCommands.AskAsync(url, parse.GetValue(image)!.FullName, parse.GetValue(question)!, asJson, TimeSpan.FromMinutes(1), parse.GetValue(apiKey)).GetAwaiter().GetResult();
            return WithModelAndImage(parse.GetValue(model)?.FullName, parse.GetValue(image)!.FullName, asJson, parse.GetValue(weights)!, (m, tokens) =>
            {
                var answer = m.Ask(tokens, parse.GetValue(question)!);
                if (asJson) Console.WriteLine(JsonSerializer.Serialize(new { answer = answer.Answer, expert = answer.Expert, gate = answer.Gate }));
                else Console.WriteLine($"[{answer.Expert}] {answer.Answer}");
            });
        });
        return command;
    }
}
