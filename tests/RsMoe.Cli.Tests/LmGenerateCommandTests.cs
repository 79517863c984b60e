using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary>The real <c>rsmoe</c> executable, run as a user would, on the tiny random Llama imported from ONNX.</summary>
public sealed class LmGenerateCommandTests
{
    static (int ExitCode, string Stdout, string Stderr) Rsmoe(params string[] args) => RsmoeProcess.Run(args);

    static string ImportTinyModel()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rsmoe-cli-tests", Guid.NewGuid().ToString("N"));
        var (code, output, error) = Rsmoe("lm", "import-onnx", "--onnx", SharedData.Path("tiny-random-llama-onnx", "model.onnx"),
            "--out", dir, "--tokenizer", SharedData.Path("tokenizers", "llama2-spm", "tokenizer.model"));
        Assert.True(code == 0, output + error);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        return dir;
    }

    [Fact]
    public void GenerateFromTokenIdsPrintsTheExpectedGreedyTokensAsJson()
    {
        string model = ImportTinyModel();
        var (code, output, error) = Rsmoe("lm", "generate", "--model", model, "--token-ids", "0,0,195,731", "--max-new-tokens", "6", "--greedy", "--json");
        Assert.True(code == 0, output + error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(new[] { 29592, 4877, 18112, 22607, 12936, 997 }, json.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("text").ValueKind);
        Assert.True(json.RootElement.GetProperty("decode_tokens_per_second").GetDouble() > 0);
    }

    [Fact]
    public void GenerateFromAPromptPrintsIdsTextAndSpeed()
    {
        string model = ImportTinyModel();
        var (code, output, error) = Rsmoe("lm", "generate", "--model", model, "--prompt", "An aerial view of", "--max-new-tokens", "5");
        Assert.True(code == 0, output + error);
        Assert.Contains("token ids:", output);
        Assert.Contains("tokens/s", output);
    }

    [Fact]
    public void BadInputGetsAOneLineErrorAndExitCodeTwo()
    {
        string model = ImportTinyModel();
        var (code, _, error) = Rsmoe("lm", "generate", "--model", model, "--token-ids", "1,x", "--max-new-tokens", "2");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --token-ids", error.Trim());
        (code, _, error) = Rsmoe("lm", "generate", "--model", "/nonexistent", "--token-ids", "1", "--max-new-tokens", "2");
        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", error);
        (code, var output, _) = Rsmoe("lm", "generate", "--model", model, "--token-ids", "1,99999", "--json");
        Assert.Equal(2, code);
        Assert.Contains("\"error\"", output);
    }
}
