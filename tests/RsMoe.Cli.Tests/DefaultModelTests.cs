using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary>The embedded default model, through the real rsmoe binary, on the real photographs it ships as samples (UCM test tiles).</summary>
public sealed class DefaultModelTests
{
    static string Sample(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "models", "default", "samples", name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException(name);
    }

    // The theme section names the scene of every sample test photo (samples/README.md lists what the shipped model
    // writes; the model card gives its rates over the whole test split, where it still misses some).
    [Theory]
    [InlineData("ucm-harbor.jpg", "harbor|boats")]
    [InlineData("ucm-airplanes.jpg", "airplanes?|airport")]
    [InlineData("ucm-farmland.jpg", "farmland|cropland")]
    [InlineData("ucm-dense-residential.jpg", "dense residential")]
    [InlineData("ucm-storage-tanks.jpg", "storage tanks?")]
    public void CaptionsARealPhotoInThreeSectionsWithTheRightTheme(string sample, string theme)
    {
        var sections = CaptionJson(sample).GetProperty("sections").EnumerateArray().ToList();
        Assert.Matches($@"(?i)\b({theme})\b", sections[0].GetProperty("text").GetString()!);
    }

    [Theory]
    [InlineData("ucm-harbor.jpg")]
    [InlineData("ucm-airplanes.jpg")]
    [InlineData("ucm-farmland.jpg")]
    [InlineData("ucm-dense-residential.jpg")]
    [InlineData("ucm-storage-tanks.jpg")]
    public void EverySampleGetsThreeNonEmptySectionsAndAGate(string sample)
    {
        var json = CaptionJson(sample);
        var sections = json.GetProperty("sections").EnumerateArray().ToList();
        Assert.Equal(["theme", "objects", "relationships"], sections.Select(s => s.GetProperty("aspect").GetString()));
        Assert.All(sections, s => Assert.False(string.IsNullOrWhiteSpace(s.GetProperty("text").GetString())));
        Assert.Equal(3, json.GetProperty("gate").GetArrayLength());
    }

    static JsonElement CaptionJson(string sample)
    {
        var (code, output, error) = RsmoeProcess.Run("caption", Sample(sample), "--json");
        Assert.True(code == 0, output + error);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    [Fact]
    public void RoutesQuestionsToTheExpertOfTheirAspect()
    {
        var (code, output, _) = RsmoeProcess.Run("ask", Sample("ucm-harbor.jpg"), "Does this picture contain an airplane?", "--json");
        Assert.Equal(0, code);
        using var presence = JsonDocument.Parse(output);
        Assert.Equal("objects", presence.RootElement.GetProperty("expert").GetString());
        Assert.StartsWith("no", presence.RootElement.GetProperty("answer").GetString(), StringComparison.OrdinalIgnoreCase);
        (code, output, _) = RsmoeProcess.Run("ask", Sample("ucm-harbor.jpg"), "What is the location of the boats in this picture?", "--json");
        using var location = JsonDocument.Parse(output);
        Assert.Equal("relationships", location.RootElement.GetProperty("expert").GetString());
        (code, output, _) = RsmoeProcess.Run("ask", Sample("ucm-harbor.jpg"), "What is the theme of this picture?", "--json");
        using var scene = JsonDocument.Parse(output);
        Assert.Equal("theme", scene.RootElement.GetProperty("expert").GetString());
        Assert.Equal("harbor", scene.RootElement.GetProperty("answer").GetString());
    }

    [Fact]
    public void ANonImageIsRefusedWithAClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"not-an-image-{Guid.NewGuid():N}.png");
        File.WriteAllText(path, "hello");
        var (code, _, error) = RsmoeProcess.Run("caption", path);
        Assert.Equal(2, code);
        Assert.Contains("not an image", error);
    }
}
