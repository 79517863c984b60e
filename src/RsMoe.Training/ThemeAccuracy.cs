using System.Text.Json;
using RsMoe.Data.Images;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;

namespace RsMoe.Training;

/// <summary>Theme accuracy on real photographs: does the theme section name the RSSCN7 class of the photo?</summary>
public static class ThemeAccuracy
{
    /// <summary>
    /// Words that count as naming each RSSCN7 class: the class's own words and the training sets' labels for the same
    /// ground (RSICD and AID call a lake a <c>pond</c>; UCM's <c>agricultural</c>).
    /// </summary>
    public static readonly Dictionary<string, string[]> Keywords = new()
    {
        ["aGrass"] = ["grass", "grassland", "meadow", "lawn"],
        ["bField"] = ["farmland", "field", "fields", "agricultural", "farming", "cropland"],
        ["cIndustry"] = ["industrial", "factory", "industry"],
        ["dRiverLake"] = ["river", "lake", "water", "riverside", "pond", "ponds"],
        ["eForest"] = ["forest", "wooded", "woods"],
        ["fResident"] = ["residential", "housing", "neighborhood", "houses"],
        ["gParking"] = ["parking", "car park"],
    };

    public static bool Names(string theme, string label) =>
        Keywords[label].Any(k => System.Text.RegularExpressions.Regex.IsMatch(theme, $@"\b{k}\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase));

    public static (double Accuracy, IReadOnlyDictionary<string, double> PerClass, int Images) Run(string modelDirectory, string rsscn7, string split, int perClass, Action<string>? log = null)
    {
        using var model = ModelFolder.Load(modelDirectory);
        using var backbone = ImageBackbone.For(model.Config);
        var items = RsMoe.Data.Datasets.Rsscn7.Split(rsscn7, split).GroupBy(p => p.Label)
            .SelectMany(g => perClass > 0 ? g.Take(perClass) : g).ToList();
        var correct = new Dictionary<string, (int Right, int Total)>();
        string themeRole = model.Config.Router.ExpertRoles[0];
        foreach (var item in items)
        {
            string label = item.Label;
            using var tokens = backbone.Encode(File.ReadAllBytes(item.Path));
            var caption = model.Caption(tokens, RsMoe.Captions.CaptionPolicy.Instruction, new RsMoe.Model.Generation.GenerationOptions { MaxNewTokens = 20 }, onlyRoles: [themeRole]);
            bool right = Names(caption.Sections[0].Text, label);
            var (r, t) = correct.GetValueOrDefault(label);
            correct[label] = (r + (right ? 1 : 0), t + 1);
            if (correct.Values.Sum(c => c.Total) % 50 == 0) log?.Invoke($"{correct.Values.Sum(c => c.Total)}/{items.Count} photos");
        }
        int total = correct.Values.Sum(c => c.Total);
        return (total == 0 ? 0 : correct.Values.Sum(c => c.Right) / (double)total,
            correct.ToDictionary(c => c.Key, c => c.Value.Right / (double)c.Value.Total), total);
    }
}
