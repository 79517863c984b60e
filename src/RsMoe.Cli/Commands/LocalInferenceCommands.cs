using System.CommandLine;
using System.Text.Json;
using RsMoe.Data.Images;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe caption IMAGE</c> and <c>rsmoe ask IMAGE QUESTION</c> run the model in this process
/// (the embedded default unless <c>--model</c> names another folder).
/// </summary>
public static class LocalInferenceCommands
{
    public static string DefaultModelDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(Path.Combine(candidate, "rsmoe_config.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("the embedded default model (models/default) was not found; pass --model DIR");
    }

    static (RsMoeModel Model, Tensor Tokens) Prepare(string modelDirectory, string image)
    {
        var model = RsMoeModel.Load(modelDirectory);
        using var encoder = new ResNetImageEncoder();
        var pixels = ImageDecoder.Preprocess(File.ReadAllBytes(image), ImagePreprocessing.ResNet18Cntk);
        var tokens = encoder.Encode(tensor(pixels.Data, [1, 3, pixels.Height, pixels.Width]));
        return (model, tokens);
    }

    public static Command Caption()
    {
        var image = new Argument<FileInfo>("image") { Description = "PNG, JPEG or TIFF file" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var instruction = new Option<string>("--instruction") { DefaultValueFactory = _ => "Describe this image in detail." };
        var json = new Option<bool>("--json");
        var command = new Command("caption", "Caption an image: each expert writes its section") { image, model, instruction, json };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            try
            {
                var (m, tokens) = Prepare(parse.GetValue(model)?.FullName ?? DefaultModelDirectory(), parse.GetValue(image)!.FullName);
                using (m)
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
                }
                return 0;
            }
            catch (Exception e) when (e is ImageRejectedException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
            {
                return CliErrors.Report(e, asJson);
            }
        });
        return command;
    }

    public static Command Ask()
    {
        var image = new Argument<FileInfo>("image");
        var question = new Argument<string>("question");
        var model = new Option<DirectoryInfo?>("--model");
        var json = new Option<bool>("--json");
        var command = new Command("ask", "Answer a question about an image with the top-gated expert") { image, question, model, json };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            try
            {
                var (m, tokens) = Prepare(parse.GetValue(model)?.FullName ?? DefaultModelDirectory(), parse.GetValue(image)!.FullName);
                using (m)
                {
                    var answer = m.Ask(tokens, parse.GetValue(question)!);
                    if (asJson) Console.WriteLine(JsonSerializer.Serialize(new { answer = answer.Answer, expert = answer.Expert, gate = answer.Gate }));
                    else Console.WriteLine($"[{answer.Expert}] {answer.Answer}");
                }
                return 0;
            }
            catch (Exception e) when (e is ImageRejectedException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
            {
                return CliErrors.Report(e, asJson);
            }
        });
        return command;
    }
}
