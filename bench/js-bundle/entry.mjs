import _ from "lodash";
import moment from "moment";
import "moment/min/locales";
import * as R from "ramda";
import * as z from "zod";
import * as dates from "date-fns";
const started = moment.utc("2024-01-02");
const modules = [R, z, dates].map((m) => Object.keys(m).length);
const Name = z.object({ first_name: z.string(), last_name: z.string() });
export const handler = async (event) => {
  const { first_name, last_name } = Name.parse(event);
  return {
    message: `Hello ${_.capitalize(first_name)} ${R.toUpper(last_name[0]) + last_name.slice(1)}!`,
    day: started.locale("fr").format("dddd"),
    weekend: dates.isWeekend(new Date(2024, 0, 6)),
    exports: modules.every((n) => n > 10),
  };
};
