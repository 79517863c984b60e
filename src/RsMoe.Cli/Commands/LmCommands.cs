using System.CommandLine;
using System.Text.Json;
using RsMoe.Model;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Checkpoints.Gguf;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Tokenizers;
using static TorchSharp.torch;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe lm …</c>: run and convert Hugging Face Llama-architecture models.</summary>
public static class LmCommands
{
    public static Command Create() => new("lm", "Run a Llama-architecture language model") { Generate(), ImportOnnx(), ExportGguf() };

    static Command Generate()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Hugging Face model directory (config.json, tokenizer, safetensors)", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (tokenised with the model's tokenizer, BOS added)" };
        var tokenIds = new Option<string?>("--token-ids") { Description = "Prompt as comma-separated token ids" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate", DefaultValueFactory = _ => 64 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding (the default unless --temperature, --top-p or --top-k is given)" };
        var temperature = new Option<double?>("--temperature") { Description = "Sample with this temperature" };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling threshold" };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens" };
        var seed = new Option<long?>("--seed") { Description = "Random seed for sampling" };
        var beams = new Option<int>("--num-beams") { Description = "Beam search width", DefaultValueFactory = _ => 1 };
        var penalty = new Option<double>("--repetition-penalty") { Description = "Penalty on repeated tokens (1 = off)", DefaultValueFactory = _ => 1.0 };
        var dtype = new Option<string>("--dtype") { Description = "fp32, bf16 or fp16", DefaultValueFactory = _ => "fp32" };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "auto" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for torch" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };

        var command = new Command("generate", "Generate tokens from a prompt")
        {
            model, prompt, tokenIds, maxNew, greedy, temperature, topP, topK, seed, beams, penalty, dtype, device, threads, json,
        };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            try
            {
                if (parse.GetValue(threads) is { } t) set_num_threads(t);
                string directory = parse.GetValue(model)!.FullName;
                var text = parse.GetValue(prompt);
                var ids = parse.GetValue(tokenIds);
                if ((text is null) == (ids is null)) throw new ArgumentException("give exactly one of --prompt and --token-ids");

                ITextTokenizer? tokenizer = TryTokenizer(directory, required: text is not null);
                var lm = LlamaForCausalLM.FromPretrained(directory, TorchRuntime.ParseDType(parse.GetValue(dtype)!), TorchRuntime.ResolveDevice(parse.GetValue(device)));
                var promptIds = text is not null ? tokenizer!.Encode(text).ToArray() : ParseIds(ids!);

                bool sample = !parse.GetValue(greedy) && (parse.GetValue(temperature) is not null || parse.GetValue(topP) is not null || parse.GetValue(topK) is not null);
                var options = new GenerationOptions
                {
                    MaxNewTokens = parse.GetValue(maxNew),
                    DoSample = sample,
                    Temperature = parse.GetValue(temperature) ?? 1.0,
                    TopP = parse.GetValue(topP) ?? 1.0,
                    TopK = parse.GetValue(topK) ?? 0,
                    Seed = parse.GetValue(seed),
                    NumBeams = parse.GetValue(beams),
                    RepetitionPenalty = parse.GetValue(penalty),
                    StopTokenIds = tokenizer?.EosTokenIds ?? lm.Config.EosTokenId ?? [],
                };
                var generator = new TextGenerator(lm);
                Action<int, int>? stream = asJson || tokenizer is null ? null : (_, token) =>
                {
                    Console.Write(tokenizer.Decode([token]));
                    Console.Out.Flush();
                };
                var result = generator.Generate(promptIds, options, stream);
                var newIds = result.Tokens[0];
                string? decoded = tokenizer?.Decode(newIds);
                if (asJson)
                {
                    Console.WriteLine(JsonSerializer.Serialize(new
                    {
                        token_ids = newIds,
                        text = decoded,
                        prompt_tokens = promptIds.Length,
                        new_tokens = newIds.Length,
                        finish_reason = result.FinishReasons[0].ToString().ToLowerInvariant(),
                        prefill_tokens_per_second = Math.Round(result.PrefillTokensPerSecond, 2),
                        decode_tokens_per_second = Math.Round(result.DecodeTokensPerSecond, 2),
                    }));
                }
                else
                {
                    if (tokenizer is not null) Console.WriteLine();
                    Console.WriteLine($"token ids: {string.Join(",", newIds)}");
                    if (decoded is not null) Console.WriteLine($"text: {decoded}");
                    Console.WriteLine($"prefill {result.PrefillTokensPerSecond:F1} tokens/s, decode {result.DecodeTokensPerSecond:F1} tokens/s ({newIds.Length} new tokens)");
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or InvalidOperationException or NotSupportedException or KeyNotFoundException)
            {
                return CliErrors.Report(e, asJson);
            }
        });
        return command;
    }

    static ITextTokenizer? TryTokenizer(string directory, bool required)
    {
        try { return TokenizerLoader.FromDirectory(directory); }
        catch (FileNotFoundException) when (!required) { return null; }
    }

    static int[] ParseIds(string text)
    {
        try { return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray(); }
        catch (FormatException) { throw new ArgumentException($"--token-ids must be comma-separated integers, got '{text}'"); }
    }

    static Command ImportOnnx()
    {
        var onnx = new Option<FileInfo>("--onnx") { Description = "model.onnx exported by onnxruntime-genai's model builder", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory to write config.json and model.safetensors", Required = true };
        var tokenizer = new Option<FileInfo?>("--tokenizer") { Description = "tokenizer.model to copy beside the weights" };
        var command = new Command("import-onnx", "Convert an ONNX-exported Llama into a Hugging Face directory") { onnx, output, tokenizer };
        command.SetAction(parse =>
        {
            try
            {
                string path = parse.GetValue(onnx)!.FullName;
                string outDir = parse.GetValue(output)!.FullName;
                var stateDict = OnnxLlamaImporter.ReadStateDict(path);
                var config = OnnxLlamaImporter.InferConfig(path, stateDict);
                using var lm = LlamaForCausalLM.Create(config, stateDict.Values.First().dtype);
                StateDictLoader.Load(lm, stateDict).EnsureComplete($"ONNX model {path}");
                lm.SavePretrained(outDir);
                if (parse.GetValue(tokenizer) is { } t) File.Copy(t.FullName, Path.Combine(outDir, "tokenizer.model"), overwrite: true);
                Console.WriteLine($"wrote {outDir} ({stateDict.Count} tensors, {config.NumHiddenLayers} layers, hidden {config.HiddenSize})");
                foreach (var tensor in stateDict.Values) tensor.Dispose();
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException or NotSupportedException or KeyNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }

    static Command ExportGguf()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Llama directory (config.json, model.safetensors), e.g. models/default/llm", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "GGUF file to write", Required = true };
        var type = new Option<string>("--type") { Description = "Matrices as f32, f16, bf16 or q8_0 (norms stay f32)", DefaultValueFactory = _ => "f16" };
        var tokenizer = new Option<DirectoryInfo?>("--tokenizer") { Description = "Directory with the tokenizer (default: the model directory, then its parent)" };
        var command = new Command("export-gguf", "Write a Llama directory as a GGUF file that llama.cpp runs") { model, output, type, tokenizer };
        command.SetAction(parse =>
        {
            try
            {
                string directory = parse.GetValue(model)!.FullName;
                var ggmlType = LlamaGgufExporter.ParseType(parse.GetValue(type)!);
                var vocabulary = parse.GetValue(tokenizer) is { } t ? TokenizerLoader.FromDirectory(t.FullName)
                    : TryTokenizer(directory, required: false) ?? (Directory.GetParent(directory) is { } parent ? TryTokenizer(parent.FullName, required: false) : null);
                using var lm = LlamaForCausalLM.FromPretrained(directory);
                var result = LlamaGgufExporter.Export(lm, parse.GetValue(output)!.FullName, ggmlType, vocabulary, Path.GetFileName(directory.TrimEnd('/')));
                Console.WriteLine($"wrote {result.Path}: {result.Tensors} tensors, {result.Type}, {result.Bytes / 1048576.0:F1} MiB"
                    + (vocabulary is null ? "; no tokenizer found, placeholder vocabulary" : $"; vocabulary from {vocabulary.Name}"));
                if (result.KeptAsF16.Count > 0)
                    Console.WriteLine($"kept as F16 (rows not a multiple of {GgmlEncoding.Q8BlockSize}): {string.Join(", ", result.KeptAsF16)}");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException or KeyNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }
}
