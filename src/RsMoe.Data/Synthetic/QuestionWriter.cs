using RsMoe.Data.Datasets;

namespace RsMoe.Data.Synthetic;

/// <summary>
/// Writes RSIEval-style question-answer pairs whose answers follow from the scene's truth, in all ten types:
/// presence, quantity, color, ab_position, re_position, area_comp, road_ori, image, scene, reasoning.
/// </summary>
public static class QuestionWriter
{
    public static readonly string[] Types = ["presence", "quantity", "color", "ab_position", "re_position", "area_comp", "road_ori", "image", "scene", "reasoning"];

    static readonly string[] Countable = ["building", "tree", "car", "plane", "ship", "storage tank", "swimming pool", "court"];

    public static IReadOnlyList<QaPair> Write(Scene scene, Random random)
    {
        var qa = new List<(string Q, string A, string Type)>();
        var present = scene.Groups.Select(g => g.Class).Distinct().ToList();
        string Plural(string cls) => Vocabulary.ClassNames[cls].Plural;

        // presence: one class that is there, one that is not.
        if (present.Count > 0)
        {
            string cls = random.Pick(present);
            qa.Add((random.Pick([$"Are there any {Plural(cls)} in this image?", $"Does this image contain {Plural(cls)}?"]), "Yes.", "presence"));
        }
        var absent = Countable.Where(c => !present.Contains(c)).ToList();
        if (absent.Count > 0)
        {
            string cls = random.Pick(absent);
            qa.Add((random.Pick([$"Are there any {Plural(cls)} in this image?", $"Does this image contain {Plural(cls)}?"]), "No.", "presence"));
        }

        // quantity: the total of a countable class.
        var countable = present.Where(c => c != "field").ToList();
        if (countable.Count > 0)
        {
            string cls = random.Pick(countable);
            int total = scene.Groups.Where(g => g.Class == cls).Sum(g => g.Count);
            qa.Add(($"How many {Plural(cls)} are there in the image?", $"There {(total == 1 ? "is" : "are")} {Vocabulary.NumberWord(total)} {Vocabulary.Name(cls, total)}.", "quantity"));
        }

        // color and absolute position of one group.
        if (scene.Groups.Count > 0)
        {
            var g = random.Pick(scene.Groups);
            string what = g.Class == "building" ? "the roofs of the buildings" : Vocabulary.Name(g.Class, 2);
            bool alone = scene.Groups.Count(x => x.Class == g.Class) == 1;
            string where = alone ? "" : $" {Regions.Phrase(g.Region, random)}";
            qa.Add(($"What color are {(g.Class == "building" ? what : "the " + what)}{where}?", $"{char.ToUpperInvariant(g.Colour[0])}{g.Colour[1..]}.", "color"));

            var h = random.Pick(scene.Groups);
            string name = CaptionWriter.Reference(scene, h);
            qa.Add(($"Where are {name} in the image?", $"{char.ToUpperInvariant(Regions.Names[h.Region][0])}{Regions.Names[h.Region][1..]} of the image.", "ab_position"));
        }

        // relative position from a stated relation.
        var relation = scene.Relations.Where(r => r.Kind != "between").OrderBy(_ => random.Next()).FirstOrDefault();
        if (relation is not null)
        {
            string Name(string key) => key == "road" ? "the road" : CaptionWriter.Reference(scene, scene.Groups.First(g => ScenePlanner.GroupKey(g) == key));
            string subject = Name(relation.Subject), obj = Name(relation.Object);
            bool plural = subject.EndsWith('s');
            qa.Add(($"What is the relative position of {subject} and {obj}?",
                $"{char.ToUpperInvariant(subject[0])}{subject[1..]} {(plural ? "are" : "is")} {CaptionWriter.RelationWords(relation.Kind)} {obj}.", "re_position"));
        }

        // area comparison between two classes drawn.
        var areas = scene.ClassArea.Where(a => a.Key is not ("road" or "river" or "water") && a.Value > 0).ToList();
        if (areas.Count >= 2)
        {
            var pair = areas.OrderBy(_ => random.Next()).Take(2).ToList();
            var larger = pair[0].Value >= pair[1].Value ? pair[0].Key : pair[1].Key;
            qa.Add(($"Which covers a larger area, the {Plural(pair[0].Key)} or the {Plural(pair[1].Key)}?", $"The {Plural(larger)}.", "area_comp"));
        }

        // road direction.
        var road = scene.Lines.FirstOrDefault(l => l.Class is "road" or "river");
        if (road is not null)
            qa.Add(($"In which direction does the {road.Class} run?", $"The {road.Class} runs {CaptionWriter.Direction(road.Direction)}.", "road_ori"));

        // image and scene.
        qa.Add((random.Pick(["Is this an aerial image?", "Is this image taken from above?"]), "Yes.", "image"));
        qa.Add((random.Pick(["What kind of scene is shown in this image?", "What is the main scene of this image?"]),
            $"{char.ToUpperInvariant(Vocabulary.ThemeNames[scene.Theme][0][0])}{Vocabulary.ThemeNames[scene.Theme][0][1..]}.", "scene"));

        // reasoning: compare counts of two classes.
        if (countable.Count >= 2)
        {
            var two = countable.OrderBy(_ => random.Next()).Take(2).ToList();
            int a = scene.Groups.Where(g => g.Class == two[0]).Sum(g => g.Count), b = scene.Groups.Where(g => g.Class == two[1]).Sum(g => g.Count);
            qa.Add(($"Are there more {Plural(two[0])} than {Plural(two[1])} in the image?", a > b ? "Yes." : "No.", "reasoning"));
        }
        else
        {
            bool water = scene.Lines.Any(l => l.Class is "water" or "river");
            qa.Add(("Is there any water in this area?", water ? "Yes." : "No.", "reasoning"));
        }
        return qa.Select((x, i) => new QaPair($"{scene.Id}#{i}", x.Q, x.A, x.Type)).ToList();
    }
}
